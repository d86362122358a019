-- A directory import refused whole: its event, and one stop for each refused remap of a person
-- flagged now (the old or the new person of the subject code), whose holding departments are told
-- (emit_stop). Nothing of the directory changes. Decides nothing: which remaps are told was
-- decided in the check pass (store.directory.Remap.flagged_now, gateway/directory_rules.py
-- remap_told); this step only records.
-- ARGV[4] actor, ARGV[5] JSON object: the fields of directory.import_refused,
-- ARGV[6..] triples: line, old person key, new person key
-- -> {'outcome', 'recorded', 'stops', stops recorded}
local fields = cjson.decode(ARGV[5])
local ev, n = {}, 0
for k, v in pairs(fields) do
  ev[#ev + 1] = k
  ev[#ev + 1] = v
end
ev[#ev + 1] = 'remap_events'
ev[#ev + 1] = tostring((#ARGV - 5) / 3)
emit('directory.import_refused', ARGV[4], ev)
for i = 6, #ARGV, 3 do
  emit_stop('directory.remap_refused', ARGV[4], {'subject', ARGV[i + 1], 'old_person', ARGV[i + 1],
    'new_person', ARGV[i + 2], 'line', ARGV[i], 'import', fields['import'] or '',
    'decision', 'refused', 'holders', holders_of({ARGV[i + 1], ARGV[i + 2]}, false)})
  n = n + 1
end
return {'outcome', 'recorded', 'stops', n}
