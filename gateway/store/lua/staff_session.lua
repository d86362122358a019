-- Look up a session and keep it alive: idle timeout renewed, absolute timeout enforced, and the
-- user read afresh (a disabled user, or one given a new password, has no session any more).
-- KEYS[1] session. ARGV[4] idle timeout (ms)
-- -> {'ok', login, role, department, csrf, flash} | {'none'}
local s = redis.call('HMGET', KEYS[1], 'login', 'csrf', 'abs_ms', 'epoch', 'flash')
if not s[1] then return {'none'} end
if tonumber(s[3]) <= NOW_MS then
  redis.call('DEL', KEYS[1])
  return {'none'}
end
local u = redis.call('HMGET', P .. 'staff:user:' .. s[1], 'role', 'department', 'disabled', 'epoch')
if not u[1] or u[3] == '1' or u[4] ~= s[4] then
  redis.call('DEL', KEYS[1])
  return {'none'}
end
redis.call('PEXPIRE', KEYS[1], math.min(tonumber(ARGV[4]), tonumber(s[3]) - NOW_MS))
if s[5] then redis.call('HDEL', KEYS[1], 'flash') end
return {'ok', s[1], u[1], u[2], s[2], s[5] or ''}
