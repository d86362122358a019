-- Set or release one department's hold on one or more persons in one atomic step. A change
-- touches only its own department's hold: the other departments' holds are neither read nor
-- written. The aggregate every decision reads (flag:<pk> ard / nd) is the OR over the person's
-- holds, kept as counts and updated here, in the same step as the hold, its history entry and its
-- event; every gateway process is told (cache invalidation) before anything is acknowledged. A
-- batch (the CSV import) happens entirely or not at all: every guard is checked before the first
-- change is written (a record still in the single-record model is turned into holds first, which
-- changes no state: see flag_holds.lua).
-- KEYS[1] index of persons with a flag record, KEYS[2] epoch
-- ARGV[4] JSON list of changes, each {pk, department, action (set|release),
--   ard, nd ('1'|'0'|'-': keep), actor, atena (sealed), entry (history entry without the
--   outcome), hold (fields of the hold to write: name sealed, business, basis, until),
--   expect_version (optional: the department's hold must still be at this version),
--   request (optional: the id of the two-person release request this change confirms),
--   change (a unique id), mac (the gateway's tag over pk, department, action, ard .. nd, the
--   entry's basis and change: gateway/store/flags/changes.py change_mac_parts; Redis holds no
--   key to make one, so a change written past the gateway has none that checks: gateway/verify)}
-- -> {'outcome', 'ok', 'versions', {hold version, ...: one per change, in order}}
--    | {'outcome', 'stale', 'index', index, 'version', hold version}
--    | {'outcome', 'request', 'index', index, 'reason', reason}
--    | {'outcome', 'refused', 'index', index, 'reason', reason}
--#include flag_holds
--#rules flag_change
local changes = cjson.decode(ARGV[4])

local function b(v) return v and '1' or '0' end
-- a refusal ('refused' | 'request') of the change at `index`, and why
local function refusal(outcome, index, reason)
  return {'outcome', outcome, 'index', index, 'reason', reason}
end
local function count(before, after)
  if before == after then return 0 end
  return after and 1 or -1
end

-- Phase 0: records of the single-record model become holds (the same state).
for i, c in ipairs(changes) do
  if upgrade_person(c.pk, 'system:upgrade') == 'orphan' then
    return refusal('refused', i, 'orphan')
  end
end

-- Phase 1: the guards, decided by the table made from gateway/flag_rules.py change_guard (a
-- change without its department is malformed input, refused before). Nothing is written unless
-- every change may happen.
local requested_by = {}
for i, c in ipairs(changes) do
  if type(c.department) ~= 'string' or c.department == '' then
    return refusal('refused', i, 'department')
  end
  local hold = hold_of(c.pk, c.department)
  -- the request this change confirms, if any: state, requested_by, person, department
  local r = {false, false, false, false}
  if c.request then
    r = redis.call('HMGET', P .. 'relreq:' .. c.request, 'state', 'requested_by', 'person',
      'department')
  end
  local v = hold and tonumber(hold.version) or 0
  local outcome = decided('flag_change', {c.action == 'release', hold ~= nil, c.request ~= nil,
    r[1] ~= false, r[1] == 'pending', r[3] == c.pk and r[4] == c.department, r[2] == c.actor,
    not c.expect_version or v == tonumber(c.expect_version)})
  if outcome == 'no_hold' then return refusal('refused', i, outcome) end
  if outcome == 'decided' then return refusal('request', i, r[1]) end  -- its state says how
  if outcome ~= 'ok' and outcome ~= 'stale' then return refusal('request', i, outcome) end
  if c.request then requested_by[i] = r[2] end
  if outcome == 'stale' then
    if c.request then
      -- The hold changed after the request was made: what was asked no longer describes it, so
      -- the request can never be confirmed. It is closed (and says why).
      redis.call('HSET', P .. 'relreq:' .. c.request, 'state', 'superseded', 'decided_at', NOW,
        'decided_by', c.actor)
      redis.call('ZREM', P .. 'relreqs', c.request)
      redis.call('DEL', pending_key(c.pk, c.department))
      emit('flag.release_superseded', c.actor, {'subject', c.pk, 'request', c.request,
        'department', c.department, 'version', tostring(v)})
    end
    return {'outcome', 'stale', 'index', i, 'version', v}
  end
end

-- Phase 2: apply.
local versions = {}
for i, c in ipairs(changes) do
  local fkey = P .. 'flag:' .. c.pk
  local hold = hold_of(c.pk, c.department) or {ard = '0', nd = '0', name = '', business = '',
    basis = '', ['until'] = '', since = '', set_at = '', set_by = '', version = 0}
  local was_ard, was_nd = hold.ard == '1', hold.nd == '1'
  local ard, nd = was_ard, was_nd
  if c.ard ~= '-' then ard = c.ard == '1' end
  if c.nd ~= '-' then nd = c.nd == '1' end
  for k, v in pairs(c.hold) do hold[k] = v end
  hold.ard, hold.nd = b(ard), b(nd)
  hold.version = (tonumber(hold.version) or 0) + 1
  if c.action == 'set' then hold.set_at, hold.set_by = NOW, c.actor end
  hold.updated_at, hold.updated_by = NOW, c.actor
  if not (ard or nd) then hold.since = '' elseif not (was_ard or was_nd) then hold.since = NOW end
  redis.call('HSET', hold_key(c.pk), c.department, cjson.encode(hold))

  local ard_holds = redis.call('HINCRBY', fkey, 'ard_holds', count(was_ard, ard))
  local nd_holds = redis.call('HINCRBY', fkey, 'nd_holds', count(was_nd, nd))
  local any_ard, any_nd = ard_holds > 0, nd_holds > 0
  local version = redis.call('HINCRBY', fkey, 'version', 1)
  redis.call('HSET', fkey, 'ard', b(any_ard), 'nd', b(any_nd), 'atena', c.atena,
    'updated_at', NOW, 'model', '2')

  local entry = c.entry
  entry.at = NOW
  entry.actor = c.actor
  entry.action = c.action
  entry.department = c.department
  entry.version = version
  entry.ard = any_ard and 1 or 0
  entry.nd = any_nd and 1 or 0
  entry.hold_version = hold.version
  entry.dept_ard = ard and 1 or 0
  entry.dept_nd = nd and 1 or 0
  entry.want = c.ard .. c.nd
  entry.change = c.change
  entry.mac = c.mac
  if c.request then
    entry.request = c.request
    entry.requested_by = requested_by[i]
  end
  redis.call('RPUSH', hold_history_key(c.pk, c.department), cjson.encode(entry))
  redis.call('ZADD', KEYS[1], NOW_MS, c.pk)
  redis.call('INCR', KEYS[2])
  redis.call('PUBLISH', P .. 'flagchanged', c.pk)
  local ev = {'subject', c.pk, 'ard', b(any_ard), 'nd', b(any_nd), 'basis', entry.basis or '',
    'department', c.department, 'business', entry.business or hold.business,
    'version', tostring(version), 'dept_ard', b(ard), 'dept_nd', b(nd),
    'hold_version', tostring(hold.version), 'want', c.ard .. c.nd, 'change', c.change,
    'mac', c.mac}
  if c.request then
    redis.call('HSET', P .. 'relreq:' .. c.request, 'state', 'confirmed', 'decided_at', NOW,
      'decided_by', c.actor)
    redis.call('ZREM', P .. 'relreqs', c.request)
    redis.call('DEL', pending_key(c.pk, c.department))
    ev[#ev + 1] = 'request'
    ev[#ev + 1] = c.request
    ev[#ev + 1] = 'requested_by'
    ev[#ev + 1] = requested_by[i]
  end
  emit('flag.' .. c.action, c.actor, ev)
  versions[#versions + 1] = hold.version
end
return {'outcome', 'ok', 'versions', versions}
