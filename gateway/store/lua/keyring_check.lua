-- Every gateway host must hold the same keys: compare this host's key check values with those
-- the store was written with, recording the versions the store has not seen yet.
-- KEYS[1] the store's check values. ARGV[4..] name/value pairs ('hmac-1', '…', 'aes-1', '…', ...)
-- -> {'outcome', 'ok'} | {'outcome', 'differs', 'name', name} | {'outcome', 'missing', 'name',
--     name}
-- Decides by the table `keyring` (gateway/keyring_rules.py keyring_agreement).
--#rules keyring
local mine, differs, missing = {}, false, false
for i = 4, #ARGV, 2 do
  mine[ARGV[i]] = ARGV[i + 1]
  local known = redis.call('HGET', KEYS[1], ARGV[i])
  if not differs and known and known ~= ARGV[i + 1] then differs = ARGV[i] end
end
local known = redis.call('HGETALL', KEYS[1])
for i = 1, #known, 2 do
  if not missing and not mine[known[i]] then missing = known[i] end
end
local outcome = decided('keyring', {differs ~= false, missing ~= false})
if outcome == 'differs' then return {'outcome', 'differs', 'name', differs} end
if outcome == 'missing' then return {'outcome', 'missing', 'name', missing} end
if outcome ~= 'ok' then error('keyring_check: ' .. outcome) end
local added = {}
for i = 4, #ARGV, 2 do
  if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) == 1 then
    added[#added + 1] = ARGV[i]
  end
end
if #added > 0 then
  emit('keyring.registered', 'gateway', {'versions', table.concat(added, ',')})
end
return {'outcome', 'ok'}
