-- Add a staff user of the console, unless the login is taken.
-- KEYS[1] user, KEYS[2] index of users. ARGV[4] login, ARGV[5] role, ARGV[6] department,
-- ARGV[7] password hash (argon2id), ARGV[8] actor -> {'outcome', 'ok'} | {'outcome', 'exists'}
-- Decides nothing by rule: the caller checked the role (an admin) and the department
-- (annex 1); a login taken is `exists` (uniqueness, not a decision of the core).
if redis.call('EXISTS', KEYS[1]) == 1 then return {'outcome', 'exists'} end
redis.call('HSET', KEYS[1], 'login', ARGV[4], 'role', ARGV[5], 'department', ARGV[6],
  'pw', ARGV[7], 'epoch', '1', 'disabled', '0', 'failed', '0', 'locked_until', '0',
  'created_at', NOW, 'created_by', ARGV[8], 'updated_at', NOW)
redis.call('ZADD', KEYS[2], NOW_MS, ARGV[4])
emit('staff.user_added', ARGV[8], {'login', ARGV[4], 'role', ARGV[5], 'department', ARGV[6]})
return {'outcome', 'ok'}
