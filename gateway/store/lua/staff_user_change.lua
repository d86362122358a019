-- Change a staff user (role, department, disabled, password, lock-out), with its event.
-- A new password or a disabling bumps the user's epoch, which ends every session they hold.
-- KEYS[1] user. ARGV[4] login, ARGV[5] actor, ARGV[6] event kind, ARGV[7] '1' to bump the epoch,
-- ARGV[8..] field/value pairs -> {'outcome', 'ok'} | {'outcome', 'missing'}
-- Decides nothing by rule: the caller checked the role and decided which change bumps the
-- epoch (gateway/services/accounts.py); this step records it.
if redis.call('EXISTS', KEYS[1]) == 0 then return {'outcome', 'missing'} end
local fields = {'login', ARGV[4]}
for i = 8, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  if ARGV[i] ~= 'pw' then
    fields[#fields + 1] = ARGV[i]
    fields[#fields + 1] = ARGV[i + 1]
  end
end
if ARGV[7] == '1' then redis.call('HINCRBY', KEYS[1], 'epoch', 1) end
redis.call('HSET', KEYS[1], 'updated_at', NOW)
emit(ARGV[6], ARGV[5], fields)
return {'outcome', 'ok'}
