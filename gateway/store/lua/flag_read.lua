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
-- -> name/value pairs (gateway/store/replies/ FlagReadReply): outcome (ok | denied), and for ok
--    victim (1|0) and name (sealed, or ''); decided by the table made from
--    gateway/flag_rules.py department_read
--#include flag_holds
--#rules flag_read
local pk, mode = ARGV[4], ARGV[5]
local ev = {'subject', pk, 'department', ARGV[6], 'business', ARGV[7], 'operator', ARGV[9]}
-- outside both annexes: nothing is read (the table refuses whatever the facts)
local hold, any_flag = nil, false
if mode ~= 'outside' then
  upgrade_person(pk, 'system:upgrade')
  local ard, nd = flags_of(pk)
  any_flag = ard or nd
  hold = hold_of(pk, ARGV[6])
end
local outcome, detail = split_outcome(decided('flag_read', {mode, hold, hold_on(hold), any_flag}))
if outcome == 'denied' then
  if mode == 'outside' then
    ev[#ev + 1] = 'operation'
    ev[#ev + 1] = 'flags.read'
  end
  for _, v in ipairs({'reason', detail, 'holders', holders_of({pk}, true)}) do
    ev[#ev + 1] = v
  end
  emit_stop('security.flag_read_refused', ARGV[8], ev)
  return {'outcome', 'denied'}
end
local victim, name = detail == '1', ''
if victim and mode == 'any' then
  -- the name of the earliest hold in force (the earliest `since`; the department breaks a tie)
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
elseif victim then
  name = hold.name or ''
end
ev[#ev + 1] = 'victim'
ev[#ev + 1] = detail
emit('flag.read', ARGV[8], ev)
return {'outcome', 'ok', 'victim', detail, 'name', victim and name or ''}
