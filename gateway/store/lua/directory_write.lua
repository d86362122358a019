-- The directory import's second pass, one batch, all of it or none: every row must still find
-- the store as the first pass did (a new subject still absent, an unchanged one still this
-- person's, a remapped one still the same other person's), or nothing of the batch is written.
-- A remap is written only when the operator allowed remaps, and in the same step its subject is
-- held for review (quarantine) until staff confirm it, with its event; a subject code belongs to
-- one person, so a change is a data error or an attack, and until someone has looked, whose
-- flags apply to it is not established.
-- KEYS[1] lock. ARGV[4] token, ARGV[5] lease (ms), ARGV[6] import id, ARGV[7] actor,
-- ARGV[8] remaps allowed (1|0), ARGV[9..] rows of seven: subject key, atena person key,
-- expected ('' new, '=' unchanged, else the person it must still be mapped to), line, review id
-- (a remap's; '' otherwise), the entry's MAC (over subject key and person key), the remap's MAC
-- (over subject key, old and new person and review id; '' otherwise). Every entry written is
-- the person key, '|' and its MAC (prelude.lua person_of); an unchanged entry that lacks that
-- MAC (written before MACs, or past the gateway) gets it: importing the addressee system's whole
-- export once is how an existing directory is sealed (docs/directory.md).
-- -> {'outcome', 'ok', 'new', n, 'unchanged', n, 'remapped', n, 'protected', n, 'sealed', n}
--    | {'outcome', 'lock_lost'} | {'outcome', 'changed', 'line', line}
--    | {'outcome', 'remap_refused', 'line', line}
-- Decides by the tables `dir_write` (each row: whether it is written) and `dir_remap` (how a
-- remap is told and counted) (gateway/directory_rules.py row_write, remap_notice).
--#rules dir_write dir_remap
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[4] then return {'outcome', 'lock_lost'} end
local rows = {}
for i = 9, #ARGV, 7 do
  local row = {sk = ARGV[i], ak = ARGV[i + 1], expected = ARGV[i + 2], line = ARGV[i + 3],
    review = ARGV[i + 4], value = ARGV[i + 1] .. '|' .. ARGV[i + 5], mac = ARGV[i + 6]}
  row.raw = redis.call('GET', P .. 'dir:' .. row.sk)
  local now = person_of(row.raw)
  local expected, as_found = 'remap', now == row.expected
  if row.expected == '' then
    expected, as_found = 'new', not now
  elseif row.expected == '=' then
    expected, as_found = 'unchanged', now == row.ak
  end
  row.outcome = decided('dir_write', {expected, as_found, ARGV[8] == '1', row.review ~= '',
    row.expected == row.ak})
  if row.outcome == 'changed' then return {'outcome', 'changed', 'line', row.line} end
  if row.outcome == 'remap_refused' then return {'outcome', 'remap_refused', 'line', row.line} end
  rows[#rows + 1] = row
end
local new, unchanged, remapped, protected, sealed = 0, 0, 0, 0, 0
for _, row in ipairs(rows) do
  if row.outcome == 'new' then
    redis.call('SET', P .. 'dir:' .. row.sk, row.value)
    new = new + 1
  elseif row.outcome == 'unchanged' then
    unchanged = unchanged + 1
    if row.raw ~= row.value then
      redis.call('SET', P .. 'dir:' .. row.sk, row.value)
      sealed = sealed + 1
    end
  elseif row.outcome == 'remap' then
    local old_flag, new_flag = flag_status(row.expected), flag_status(row.ak)
    local told, counted = split_outcome(decided('dir_remap', {old_flag, new_flag}))
    redis.call('SET', P .. 'dir:' .. row.sk, row.value)
    local fields = {'old_person', row.expected, 'new_person', row.ak, 'old_flag', old_flag,
      'new_flag', new_flag, 'import', ARGV[6], 'line', row.line}
    open_review(row.review, 'subject', row.sk, 'subject_remapped', ARGV[7], fields)
    local ev = {'subject', row.sk, 'review', row.review, 'mac', row.mac}
    for j = 1, #fields do ev[#ev + 1] = fields[j] end
    if told == 'stop' then
      -- a protected person's code moved: their holding departments are told (emit_stop)
      ev[#ev + 1] = 'holders'
      ev[#ev + 1] = holders_of({row.expected, row.ak}, false)
      emit_stop('directory.remapped', ARGV[7], ev)
    elseif told == 'event' then
      emit('directory.remapped', ARGV[7], ev)
    else
      error('directory_write: ' .. told)
    end
    remapped = remapped + 1
    if counted == 'protected' then protected = protected + 1 end
  else
    error('directory_write: ' .. row.outcome)
  end
end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[5]))
return {'outcome', 'ok', 'new', new, 'unchanged', unchanged, 'remapped', remapped,
  'protected', protected, 'sealed', sealed}
