-- Append an event that was spooled to disk while the store could not be reached, exactly once
-- (a replay interrupted after this step and run again finds the marker and appends nothing).
-- KEYS[1] replay marker. ARGV[4] marker ttl (s), ARGV[5..] the event's field/value pairs
-- (kind, at, actor, ...: `at` is when it happened, not now). -> 1 appended | 0 already there
-- Decides nothing: the marker makes the append happen once (an idempotence guard, not a
-- rule of the core); what the event says was decided when it happened.
if not AUDIT then return 0 end
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', tonumber(ARGV[4])) then return 0 end
local args = {P .. 'events', '*'}
for i = 5, #ARGV do args[#args + 1] = ARGV[i] end
redis.call('XADD', unpack(args))
return 1
