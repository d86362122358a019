-- The upstream could not answer an automatic query: forget the reservation so the requester may
-- send it again. Only a RECEIVED query can be abandoned (gateway/lifecycle.py ABANDONABLE).
-- KEYS[1] query, KEYS[2] idempotency. ARGV[4] id, ARGV[5] why
-- -> name/value pairs (gateway/store/replies/ StepReply): outcome (abandoned | not_received),
--    state
--#rules
local state = redis.call('HGET', KEYS[1], 'state')
if not may_move('abandon', state, 'forgotten') then
  return {'outcome', 'not_received', 'state', state or 'unknown'}
end
local q = redis.call('HMGET', KEYS[1], 'org', 'pn', 'person_key', 'subject_key')
redis.call('DEL', KEYS[1])
redis.call('DEL', KEYS[2])
redis.call('ZREM', P .. 'inflight', ARGV[4])
emit('query.abandoned', 'gateway', {'query', ARGV[4], 'org', q[1], 'pn', q[2],
  'subject', either(q[3], q[4]), 'reason', ARGV[5]})
return {'outcome', 'abandoned', 'state', state}
