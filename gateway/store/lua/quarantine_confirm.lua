-- Confirm a review: its subject or person is no longer held for it (another open review of the
-- same subject or person still holds it). Nobody confirms a review they opened themselves (the
-- operator who imported a remap): that is refused and a security event.
-- KEYS[1] the review. ARGV[4] id, ARGV[5] actor, ARGV[6] sealed note,
-- ARGV[7] the reason the caller confirms ('' for any: `directory confirm` confirms remaps only)
-- -> {'confirmed', open reviews left on it} | {'unknown'} | {'not_open', state} | {'same_person'}
local r = redis.call('HMGET', KEYS[1], 'state', 'scope', 'key', 'reason', 'opened_by')
if not r[1] or (ARGV[7] ~= '' and r[4] ~= ARGV[7]) then return {'unknown'} end
if r[1] ~= 'open' then return {'not_open', r[1]} end
if r[5] == ARGV[5] then
  emit('security.self_approval', ARGV[5], {'review', ARGV[4], 'scope', r[2], 'subject', r[3],
    'reason', r[4], 'decision', 'refused'})
  return {'same_person'}
end
local index = P .. 'quarof:' .. r[2] .. ':' .. r[3]
redis.call('HSET', KEYS[1], 'state', 'confirmed', 'confirmed_at', NOW, 'confirmed_by', ARGV[5],
  'note', ARGV[6])
redis.call('HDEL', index, ARGV[4])
redis.call('ZREM', P .. 'quars', ARGV[4])
local left = redis.call('HLEN', index)
emit('quarantine.confirmed', ARGV[5], {'review', ARGV[4], 'scope', r[2], 'subject', r[3],
  'reason', r[4], 'still_under_review', tostring(left)})
return {'confirmed', left}
