-- RECEIVED -> HELD (the admission's decision was to hold: lua/admit.lua, gateway/decision.py).
-- KEYS[1] query. ARGV[4] id, ARGV[5] reason.
-- -> name/value pairs (gateway/store/replies/ StepReply): outcome (held | not_received), state
--#rules
local state = redis.call('HGET', KEYS[1], 'state')
if not may_move('hold', state, 'held') then
  return {'outcome', 'not_received', 'state', state or 'unknown'}
end
hold_query(KEYS[1], ARGV[4], ARGV[5], 'gateway')
return {'outcome', 'held', 'state', state}
