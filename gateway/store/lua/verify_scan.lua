-- One step of the check's sweep over the store's keys (gateway/verify): the directory entries
-- among them with their values, and the person keys of the flag records, holds and histories
-- among them (a record removed from the index is found here). Reads only. SCAN returns every key
-- present for the whole sweep at least once, whatever is written meanwhile.
-- KEYS[1] (routing only: the check's state). ARGV[4] cursor, ARGV[5] keys to look at (COUNT)
-- -> {'outcome', 'ok', 'cursor', next cursor ('0': the sweep is done), 'entries', {subject key,
--     value, ...}, 'persons', {person key, ...}}
-- Decides nothing: it reads only (the check compares in Python, gateway/verify/compare.py).
local found = redis.call('SCAN', ARGV[4], 'MATCH', P .. '*', 'COUNT', tonumber(ARGV[5]))
local dir_prefix, flag_prefix = P .. 'dir:', P .. 'flag'
local entries, persons = {}, {}
for _, key in ipairs(found[2]) do
  if string.sub(key, 1, #dir_prefix) == dir_prefix then
    local ok, v = pcall(redis.call, 'GET', key)
    if not ok or not v then v = '!' end  -- not a string: written past the gateway
    entries[#entries + 1] = string.sub(key, #dir_prefix + 1)
    entries[#entries + 1] = v
  elseif string.sub(key, 1, #flag_prefix) == flag_prefix then
    local rest = string.sub(key, #flag_prefix + 1)
    local kind, pk = string.match(rest, '^([a-z]*):([^:]+)')
    if kind == '' or kind == 'holds' or kind == 'holdhist' or kind == 'hist' then
      persons[#persons + 1] = pk
    end
  end
end
return {'outcome', 'ok', 'cursor', found[1], 'entries', entries, 'persons', persons}
