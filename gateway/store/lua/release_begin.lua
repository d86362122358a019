-- Staff release, step 1: take the release lock of a HELD query (one taker only), if its subject
-- is still what the approver was shown (ARGV[6], the seen token; '' for the operator's command,
-- which judges on the facts as they are now and prints them).
-- KEYS[1] query, KEYS[2] lock. ARGV[4] token, ARGV[5] lock ttl (ms), ARGV[6] seen token or ''.
-- -> {'ok', sealed request, subject key, seen token now} | {'not_held', state} | {'busy'}
--    | {'facts_changed'}
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'held' then return {'not_held', state or 'unknown'} end
local q = redis.call('HMGET', KEYS[1], 'sealed', 'subject_key', 'id')
local seen = seen_token(subject_now(q[2]))
if ARGV[6] ~= '' and ARGV[6] ~= seen then
  emit('query.release_stale', 'gateway', {'query', q[3] or '', 'reason', 'facts_changed',
    'step', 'begin'})
  return {'facts_changed'}
end
if not redis.call('SET', KEYS[2], ARGV[4], 'NX', 'PX', tonumber(ARGV[5])) then return {'busy'} end
return {'ok', q[1], q[2], seen}
