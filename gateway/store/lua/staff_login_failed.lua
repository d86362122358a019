-- A failed login: a security event; a wrong password counts towards the lock-out, and the
-- attempt that reaches the limit locks the login for a period (an admin may unlock it sooner).
-- KEYS[1] user (may not exist). ARGV[4] login as shown in events, ARGV[5] peer, ARGV[6] reason
-- (password|unknown_login|disabled|locked), ARGV[7] attempts allowed, ARGV[8] lock-out (ms)
-- -> {'outcome', 'locked'} (this failure locked the login) | {'outcome', 'counted'}
--    | {'outcome', 'recorded'} (counted towards nothing)
-- Decides by the table `login_failed` (gateway/step_rules.py login_failure).
--#rules login_failed
local known = redis.call('EXISTS', KEYS[1]) == 1
local failed = known and tonumber(redis.call('HGET', KEYS[1], 'failed') or '0') or 0
local outcome = decided('login_failed',
  {ARGV[6] == 'password', known, failed + 1 >= tonumber(ARGV[7])})
if outcome == 'counted' then
  redis.call('HINCRBY', KEYS[1], 'failed', 1)
elseif outcome == 'locked' then
  redis.call('HSET', KEYS[1], 'failed', '0', 'locked_until', NOW_MS + tonumber(ARGV[8]))
elseif outcome ~= 'recorded' then
  error('staff_login_failed: ' .. outcome)
end
emit('security.login_failed', 'peer:' .. ARGV[5], {'login', ARGV[4], 'reason', ARGV[6]})
if outcome == 'locked' then
  emit('security.login_locked', 'gateway', {'login', ARGV[4], 'peer', ARGV[5],
    'seconds', tostring(math.floor(tonumber(ARGV[8]) / 1000))})
end
return {'outcome', outcome}
