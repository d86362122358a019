-- The check's one look at the store (gateway/verify): in one atomic step, the flag events not
-- sealed yet, and the live state of some persons (each with its record, its departments' holds and
-- every hold's history) and of some directory entries, so that what the trail and the events not
-- sealed yet say, and what the store holds, are compared at the same moment. Reads only.
-- KEYS[1] the raw event stream. ARGV[4] most raw events to read (more: {'behind', ...}),
-- ARGV[5] how many persons, then per person: person key, how many departments the trail knows
-- of, those departments (the departments of their holds in the store, and those the events not
-- sealed yet name, are added); then how many subject keys, those subject keys.
-- -> {'outcome', 'ok', 'head', head seq, 'raw', raw events {{id, {field, value, ...}}, ...} (the
--     kinds the check folds), 'persons', {{pk, record {field, value, ...}, holds {dept, hold, ...},
--     legacy history length, histories {dept, {entry, ...}, ...}}, ...}, 'values', values of the
--     directory entries ('' for none)}
--    | {'outcome', 'behind', 'head', head seq, 'waiting', raw events waiting}
-- Decides nothing: it reads only (the check folds and compares in Python, gateway/verify).
local FOLDED = {['flag.set'] = true, ['flag.release'] = true, ['flag.upgraded'] = true,
  ['flag.repaired'] = true, ['directory.remapped'] = true, ['verify.started'] = true,
  ['directory.sealed'] = true}
local head = redis.call('HGET', P .. 'audit:head', 'seq') or '0'
local waiting = redis.call('XLEN', KEYS[1])
if waiting > tonumber(ARGV[4]) then return {'outcome', 'behind', 'head', head, 'waiting',
  waiting} end
local raw = {}
local raw_depts = {}  -- person key -> departments the events not sealed yet name
if waiting > 0 then
  for _, e in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do
    local f = e[2]
    local kind, subject, dept = nil, nil, nil
    for i = 1, #f, 2 do
      if f[i] == 'kind' then kind = f[i + 1] end
      if f[i] == 'subject' then subject = f[i + 1] end
      if f[i] == 'department' then dept = f[i + 1] end
    end
    if kind and FOLDED[kind] then
      raw[#raw + 1] = e
      if subject and dept then
        raw_depts[subject] = raw_depts[subject] or {}
        table.insert(raw_depts[subject], dept)
      end
    end
  end
end
local persons = {}
local i = 6
for _ = 1, tonumber(ARGV[5]) do
  local pk = ARGV[i]
  local depts, seen = {}, {}
  for j = 1, tonumber(ARGV[i + 1]) do
    local d = ARGV[i + 1 + j]
    if not seen[d] then seen[d] = true depts[#depts + 1] = d end
  end
  i = i + 2 + tonumber(ARGV[i + 1])
  for _, d in ipairs(raw_depts[pk] or {}) do
    if not seen[d] then seen[d] = true depts[#depts + 1] = d end
  end
  local record = redis.call('HGETALL', P .. 'flag:' .. pk)
  local holds = redis.call('HGETALL', P .. 'flagholds:' .. pk)
  for k = 1, #holds, 2 do
    if not seen[holds[k]] then seen[holds[k]] = true depts[#depts + 1] = holds[k] end
  end
  local histories = {}
  for _, d in ipairs(depts) do
    histories[#histories + 1] = d
    histories[#histories + 1] = redis.call('LRANGE', P .. 'flagholdhist:' .. pk .. ':' .. d, 0, -1)
  end
  persons[#persons + 1] = {pk, record, holds, redis.call('LLEN', P .. 'flaghist:' .. pk),
    histories}
end
local values = {}
local n = tonumber(ARGV[i])
for j = 1, n do
  local ok, v = pcall(redis.call, 'GET', P .. 'dir:' .. ARGV[i + j])
  if not ok then v = '!' end  -- not a string: written past the gateway
  values[#values + 1] = v or ''
end
return {'outcome', 'ok', 'head', head, 'raw', raw, 'persons', persons, 'values', values}
