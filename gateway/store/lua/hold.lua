-- RECEIVED -> HELD (the decision was to hold). KEYS[1] query. ARGV[4] id, ARGV[5] reason.
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'received' then return {'not_received', state or 'unknown'} end
hold_query(KEYS[1], ARGV[4], ARGV[5], 'gateway')
return {'held'}
