-- The directory import's first pass, one batch: what each row would do to the store, changing
-- nothing (but the lock's lease). A row is new (its subject is not in the directory), unchanged
-- (mapped to this person already) or a remap (mapped to another person), with the flag status
-- of both persons (now | before | never, see flag_status).
-- KEYS[1] lock. ARGV[4] token, ARGV[5] lease (ms), ARGV[6..] pairs: subject key, atena person key
-- -> {'outcome', 'ok', 'statuses', one of n u r per row, 'remaps', {per remap: {'old_person', old
--     person, 'old_flag', its status, 'new_flag', the new person's status}, ...}}
--    | {'outcome', 'lock_lost'}
-- Decides by the table `dir_row` (gateway/directory_rules.py row_status).
--#rules dir_row
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[4] then return {'outcome', 'lock_lost'} end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[5]))
local statuses = {}
local remaps = {}
for i = 6, #ARGV, 2 do
  local now = person_of(redis.call('GET', P .. 'dir:' .. ARGV[i]))
  local status = decided('dir_row', {now and true or false, now == ARGV[i + 1]})
  statuses[#statuses + 1] = status
  if status == 'r' then
    remaps[#remaps + 1] = {'old_person', now, 'old_flag', flag_status(now),
      'new_flag', flag_status(ARGV[i + 1])}
  end
end
return {'outcome', 'ok', 'statuses', table.concat(statuses), 'remaps', remaps}
