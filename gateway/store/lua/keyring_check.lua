-- Every gateway host must hold the same keys: compare this host's key check values with those
-- the store was written with, recording the versions the store has not seen yet.
-- KEYS[1] the store's check values. ARGV[4..] name/value pairs ('hmac-1', '…', 'aes-1', '…', ...)
-- -> {'outcome', 'ok'} | {'outcome', 'differs', 'name', name} | {'outcome', 'missing', 'name',
--     name}
local mine = {}
for i = 4, #ARGV, 2 do
  mine[ARGV[i]] = ARGV[i + 1]
  local known = redis.call('HGET', KEYS[1], ARGV[i])
  if known and known ~= ARGV[i + 1] then return {'outcome', 'differs', 'name', ARGV[i]} end
end
local known = redis.call('HGETALL', KEYS[1])
for i = 1, #known, 2 do
  if not mine[known[i]] then return {'outcome', 'missing', 'name', known[i]} end
end
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
