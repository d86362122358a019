-- Staff refusal: HELD -> REFUSED exactly once, unless a release is under way (the table's
-- outcome, made from gateway/recheck.py refusal).
-- KEYS[1] query, KEYS[2] release lock. ARGV[4] id, ARGV[5] actor, ARGV[6] sealed reason.
-- -> name/value pairs (gateway/store/replies/ StepReply): outcome (refused | not_held | busy),
--    state
--#rules refuse
local state = redis.call('HGET', KEYS[1], 'state')
local outcome = decided('refuse', {may_move('refuse', state, 'refused'),
  redis.call('EXISTS', KEYS[2]) == 1})
if outcome ~= 'refused' then return {'outcome', outcome, 'state', state or 'unknown'} end
redis.call('HSET', KEYS[1], 'state', 'refused', 'decided_at', NOW, 'decided_by', ARGV[5],
  'refusal', ARGV[6])
redis.call('ZREM', P .. 'held', ARGV[4])
local q = redis.call('HMGET', KEYS[1], 'org', 'pn', 'item', 'person_key', 'subject_key')
emit('query.refused', ARGV[5], {'query', ARGV[4], 'org', q[1], 'pn', q[2], 'item', q[3],
  'subject', either(q[4], q[5])})
return {'outcome', outcome, 'state', state}
