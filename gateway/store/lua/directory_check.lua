-- The directory import's first pass, one batch: what each row would do to the store, changing
-- nothing (but the lock's lease). A row is new (its subject is not in the directory), unchanged
-- (mapped to this person already) or a remap (mapped to another person), with the flag status
-- of both persons (now | before | never, see flag_status).
-- KEYS[1] lock. ARGV[4] token, ARGV[5] lease (ms), ARGV[6..] pairs: subject key, atena person key
-- -> {'ok', statuses (one of n u r per row), then per remap: old person, old status, new status}
--    | {'lock_lost'}
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[4] then return {'lock_lost'} end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[5]))
local statuses = {}
local out = {'ok', ''}
for i = 6, #ARGV, 2 do
  local now = person_of(redis.call('GET', P .. 'dir:' .. ARGV[i]))
  if not now then
    statuses[#statuses + 1] = 'n'
  elseif now == ARGV[i + 1] then
    statuses[#statuses + 1] = 'u'
  else
    statuses[#statuses + 1] = 'r'
    out[#out + 1] = now
    out[#out + 1] = flag_status(now)
    out[#out + 1] = flag_status(ARGV[i + 1])
  end
end
out[2] = table.concat(statuses)
return out
