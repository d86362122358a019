-- A department reads one person's flag state, recorded in the same atomic step: no read without
-- its event. Modes:
--   any   a using department (annex 2): whether any department holds a flag, and the name of the
--         earliest hold in force (the earliest `since`; the department's name breaks a tie)
--   held  a holding department that is not a using one (the departments' API): only while its
--         own hold is on, and then from that hold alone
--   hold  a holding department's registrar (the console): its own hold, on or released
--   outside  a department and business outside both annexes: refused before anything is read
-- A department reading by its own hold learns nothing of any other department's: it is refused,
-- or answered, from its own hold alone. A refusal is a stop the person's holding departments are
-- told of (emit_stop: one read of the holds, one inbox entry, whoever holds what), which the
-- refused department learns nothing from: its answer is the same 403 either way.
-- KEYS[1] the person's holds
-- ARGV[4] person key, ARGV[5] mode (any|held|hold), ARGV[6] department, ARGV[7] business,
-- ARGV[8] actor (the token or the registrar), ARGV[9] operator (the person at the business
-- system, or '')
-- -> {'ok', victim (1|0), sealed name or ''} | {'denied'}
--#include flag_holds
local pk, mode = ARGV[4], ARGV[5]
local ev = {'subject', pk, 'department', ARGV[6], 'business', ARGV[7], 'operator', ARGV[9]}
local function refuse(reason)
  for _, v in ipairs({'reason', reason, 'holders', holders_of({pk}, true)}) do
    ev[#ev + 1] = v
  end
  emit_stop('security.flag_read_refused', ARGV[8], ev)
  return {'denied'}
end
if mode == 'outside' then
  ev[#ev + 1] = 'operation'
  ev[#ev + 1] = 'flags.read'
  return refuse('outside_annexes')
end
upgrade_person(pk, 'system:upgrade')
local victim, name = false, ''
if mode == 'any' then
  local ard, nd = flags_of(pk)
  victim = ard or nd
  if victim then
    local first
    local raw = redis.call('HGETALL', KEYS[1])
    for i = 1, #raw, 2 do
      local h = cjson.decode(raw[i + 1])
      if hold_on(h) and (not first or h.since < first.since
          or (h.since == first.since and raw[i] < first.department)) then
        first = h
        first.department = raw[i]
      end
    end
    if first then name = first.name or '' end
  end
else
  local hold = hold_of(pk, ARGV[6])
  victim = hold_on(hold)
  if hold == nil or (mode == 'held' and not victim) then
    return refuse('not_held_by_this_department')
  end
  if victim then name = hold.name or '' end
end
ev[#ev + 1] = 'victim'
ev[#ev + 1] = victim and '1' or '0'
emit('flag.read', ARGV[8], ev)
if not victim then return {'ok', 0, ''} end
return {'ok', 1, name}
