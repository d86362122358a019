-- A failed login: a security event; a wrong password counts towards the lock-out, and the
-- attempt that reaches the limit locks the login for a period (an admin may unlock it sooner).
-- KEYS[1] user (may not exist). ARGV[4] login as shown in events, ARGV[5] peer, ARGV[6] reason
-- (password|unknown_login|disabled|locked), ARGV[7] attempts allowed, ARGV[8] lock-out (ms)
-- -> {'outcome', 'locked'} (this failure locked the login) | {'outcome', 'recorded'}
local locked = 0
if ARGV[6] == 'password' and redis.call('EXISTS', KEYS[1]) == 1 then
  local n = redis.call('HINCRBY', KEYS[1], 'failed', 1)
  if n >= tonumber(ARGV[7]) then
    redis.call('HSET', KEYS[1], 'failed', '0', 'locked_until', NOW_MS + tonumber(ARGV[8]))
    locked = 1
  end
end
emit('security.login_failed', 'peer:' .. ARGV[5], {'login', ARGV[4], 'reason', ARGV[6]})
if locked == 1 then
  emit('security.login_locked', 'gateway', {'login', ARGV[4], 'peer', ARGV[5],
    'seconds', tostring(math.floor(tonumber(ARGV[8]) / 1000))})
end
return {'outcome', locked == 1 and 'locked' or 'recorded'}
