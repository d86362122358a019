-- Look up a session and keep it alive: both timeouts enforced by the gateway's clock (NOW_MS),
-- the idle one renewed, and the user read afresh (a disabled user, or one given a new password,
-- has no session any more). The key's expiry follows the nearer end, to clear it away.
-- KEYS[1] session. ARGV[4] idle timeout (ms)
-- -> {'outcome', 'ok', 'login', login, 'role', role, 'department', department, 'csrf', csrf,
--     'flash', flash ('' for none)} | {'outcome', 'none'}
-- Decides by the table `session` (gateway/step_rules.py session_check).
--#rules session
local s = redis.call('HMGET', KEYS[1], 'login', 'csrf', 'abs_ms', 'epoch', 'flash',
  'idle_until_ms')
local u = {}
if s[1] then
  u = redis.call('HMGET', P .. 'staff:user:' .. s[1], 'role', 'department', 'disabled', 'epoch')
end
-- (a session opened before idle_until_ms was stored has only its key's expiry for the idle end)
local outcome = decided('session', {s[1] and true or false,
  s[1] ~= false and tonumber(s[3]) <= NOW_MS, s[6] ~= false and tonumber(s[6]) <= NOW_MS,
  u[1] and true or false, u[3] == '1', u[4] == s[4]})
if outcome == 'none' then return {'outcome', 'none'} end
if outcome == 'ended' then
  redis.call('DEL', KEYS[1])
  return {'outcome', 'none'}
end
if outcome ~= 'ok' then error('staff_session: ' .. outcome) end
redis.call('HSET', KEYS[1], 'idle_until_ms', NOW_MS + tonumber(ARGV[4]))
redis.call('PEXPIRE', KEYS[1], math.min(tonumber(ARGV[4]), tonumber(s[3]) - NOW_MS))
if s[5] then redis.call('HDEL', KEYS[1], 'flash') end
return {'outcome', 'ok', 'login', s[1], 'role', u[1], 'department', u[2], 'csrf', s[2],
  'flash', s[5] or ''}
