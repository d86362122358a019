-- A login whose password was verified: open a session, unless the user was disabled, locked or
-- given a new password meanwhile. The session stores the user's epoch (see staff_user_change)
-- and both its ends by the gateway's clock (NOW_MS): idle_until_ms, renewed on each request, and
-- abs_ms (staff_session checks them). The key's expiry only clears it away, no later than them.
-- KEYS[1] user, KEYS[2] session. ARGV[4] login, ARGV[5] the verified password hash,
-- ARGV[6] CSRF token, ARGV[7] idle timeout (ms), ARGV[8] absolute timeout (ms), ARGV[9] peer
-- -> {'outcome', 'ok'} | {'outcome', 'refused', 'reason', changed|disabled|locked}
-- Decides by the table `login_ok` (gateway/step_rules.py session_opening).
--#rules login_ok
local u = redis.call('HMGET', KEYS[1], 'pw', 'disabled', 'locked_until', 'epoch')
local outcome = decided('login_ok', {u[1] == ARGV[5], u[2] == '1', tonumber(u[3] or '0') > NOW_MS})
local action, why = outcome, ''
if string.find(outcome, ':', 1, true) then action, why = split_outcome(outcome) end
if action == 'refused' then return {'outcome', action, 'reason', why} end
if action ~= 'ok' then error('staff_login_ok: ' .. outcome) end
redis.call('HSET', KEYS[1], 'failed', '0', 'last_login_at', NOW)
redis.call('HSET', KEYS[2], 'login', ARGV[4], 'csrf', ARGV[6], 'created_ms', NOW_MS,
  'idle_until_ms', NOW_MS + tonumber(ARGV[7]), 'abs_ms', NOW_MS + tonumber(ARGV[8]),
  'epoch', u[4] or '1')
redis.call('PEXPIRE', KEYS[2], math.min(tonumber(ARGV[7]), tonumber(ARGV[8])))
emit('staff.login', 'staff:' .. ARGV[4], {'peer', ARGV[9]})
return {'outcome', 'ok'}
