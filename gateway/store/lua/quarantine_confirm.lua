-- Confirm a review: its subject or person is no longer held for it (another open review of the
-- same subject or person still holds it). Nobody confirms a review they opened themselves (the
-- operator who imported a remap): that is refused and a security event.
-- KEYS[1] the review. ARGV[4] id, ARGV[5] actor, ARGV[6] sealed note,
-- ARGV[7] the reason the caller confirms ('' for any: `directory confirm` confirms remaps only)
-- -> name/value pairs (gateway/store/replies/ OutcomeReply): outcome (confirmed | unknown |
--    not_open | same_person: the table's, made from gateway/flag_rules.py review_confirmation),
--    state (not_open), left (confirmed: open reviews left on its subject or person)
--#rules review_confirm
local r = redis.call('HMGET', KEYS[1], 'state', 'scope', 'key', 'reason', 'opened_by')
local outcome = decided('review_confirm', {r[1] and (ARGV[7] == '' or r[4] == ARGV[7]),
  r[1] == 'open', r[5] == ARGV[5]})
if outcome == 'not_open' then return {'outcome', outcome, 'state', r[1]} end
if outcome == 'same_person' then
  emit('security.self_approval', ARGV[5], {'review', ARGV[4], 'scope', r[2], 'subject', r[3],
    'reason', r[4], 'decision', 'refused'})
end
if outcome ~= 'confirmed' then return {'outcome', outcome} end
local index = P .. 'quarof:' .. r[2] .. ':' .. r[3]
redis.call('HSET', KEYS[1], 'state', 'confirmed', 'confirmed_at', NOW, 'confirmed_by', ARGV[5],
  'note', ARGV[6])
redis.call('HDEL', index, ARGV[4])
redis.call('ZREM', P .. 'quars', ARGV[4])
local left = redis.call('HLEN', index)
emit('quarantine.confirmed', ARGV[5], {'review', ARGV[4], 'scope', r[2], 'subject', r[3],
  'reason', r[4], 'still_under_review', tostring(left)})
return {'outcome', outcome, 'left', tostring(left)}
