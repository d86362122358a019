-- Each holding department's own hold on a person (保有課ごとのフラグ), shared by the flag scripts
-- (`--#include flag_holds`). Key layout as in gateway/store/keys.py:
--   flag:<pk>                      the aggregate every decision reads (flags_of): ard, nd, and
--                                  ard_holds / nd_holds, how many holds have each flag on
--                                  (ard = ard_holds > 0), version (person-wide), atena (sealed),
--                                  updated_at, model ('2': kept as holds)
--   flagholds:<pk>                 department -> its hold (JSON): ard, nd ('1'|'0'), name
--                                  (sealed), business, basis, until, since, set_at, set_by,
--                                  updated_at, updated_by, version (the hold's own)
--   flagholdhist:<pk>:<department> the hold's history, oldest first
-- The counts make the aggregate a constant amount of work whatever other departments hold, so a
-- department's change or read does the same store work whether or not anyone else holds a flag.
-- Decides nothing: an include (`--#include flag_holds`) that gathers facts (a department's
-- hold) and turns the single-record model into holds without changing any state; the flag scripts
-- that include it decide by their tables (flag_read, flag_release_request), and the aggregate is
-- the OR of the holds kept as counts (flag_change.lua).

local function hold_key(pk) return P .. 'flagholds:' .. pk end
local function hold_history_key(pk, department)
  return P .. 'flagholdhist:' .. pk .. ':' .. department
end
local function pending_key(pk, department) return P .. 'relreqof:' .. pk .. ':' .. department end

local function hold_of(pk, department)
  local raw = redis.call('HGET', hold_key(pk), department)
  if not raw then return nil end
  -- A value the gateway never writes (put there past it; the check reports it: gateway/verify)
  -- counts as no hold, so that the department's next registration writes a whole new one.
  local ok, hold = pcall(cjson.decode, raw)
  if not ok or type(hold) ~= 'table' then return nil end
  return hold
end

local function hold_on(h) return h ~= nil and (h.ard == '1' or h.nd == '1') end

local function text(v, default)
  if type(v) == 'string' then return v end
  return default or ''
end

-- Which flags a legacy history entry acted on: its `flags` list, or, where an entry has none,
-- what it left on (a set) or off (a release), which keeps at least the protection in force.
local function acted_on(e)
  if type(e.flags) == 'table' then
    local a, n = false, false
    for _, f in ipairs(e.flags) do
      if f == 'auto_response_disabled' then a = true end
      if f == 'non_disclosure' then n = true end
    end
    return a, n
  end
  if e.action == 'release' then return e.ard == 0, e.nd == 0 end
  return e.ard == 1, e.nd == 1
end

-- Records of the single-record model (one department's fields on flag:<pk>, flagdepts:<pk>, one
-- history for everyone in flaghist:<pk>) become holds, state unchanged. The legacy history is
-- folded per department as that model worked (a set by D turned flags on, recorded as D's; a
-- release turned them off for everyone), then made to agree with the live ard / nd (a flag on
-- that no hold has goes to the department that last set the record; a flag off is off in every
-- hold). The same fold takes in whatever a gateway of the older version still writes there during
-- a rolling upgrade: `legacy_seen` marks how much of flaghist:<pk> has been folded. Each hold the
-- fold changes gets an 'upgrade' entry and a `flag.upgraded` event; a hold made by the fold keeps
-- the record's version as its own, so that a release request pending from before still matches
-- it, and one it changes moves on by one, so that such a request no longer does.
-- -> 'current' (nothing to do) | 'upgraded' | 'orphan' (a flag on and no department anywhere:
-- left as it is, still protected, and no change is applied to it; see flag_change.lua)
local function upgrade_person(pk, actor)
  local fkey = P .. 'flag:' .. pk
  local rec = redis.call('HMGET', fkey, 'model', 'version', 'ard', 'nd', 'department', 'name',
    'updated_at', 'legacy_seen')
  if not rec[2] then return 'current' end
  local seen = tonumber(rec[8]) or 0
  local legacy_len = redis.call('LLEN', P .. 'flaghist:' .. pk)
  if rec[1] == '2' and legacy_len <= seen then return 'current' end
  local version = tonumber(rec[2]) or 0
  local holds, order, changed = {}, {}, {}
  local stored = redis.call('HGETALL', hold_key(pk))
  for i = 1, #stored, 2 do
    holds[stored[i]] = cjson.decode(stored[i + 1])
    order[#order + 1] = stored[i]
  end
  local function hold_for(d)
    if not holds[d] then
      holds[d] = {ard = '0', nd = '0', name = '', business = '', basis = '', ['until'] = '',
        since = '', set_at = '', set_by = '', updated_at = '', updated_by = '', version = version,
        new = true}
      order[#order + 1] = d
    end
    changed[d] = true
    return holds[d]
  end
  local function touched(h, at)
    if h.ard == '0' and h.nd == '0' then h.since = '' elseif h.since == '' then h.since = at end
  end
  for _, raw in ipairs(redis.call('LRANGE', P .. 'flaghist:' .. pk, seen, -1)) do
    local ok, e = pcall(cjson.decode, raw)
    if ok and type(e) == 'table' then
      local a, n = acted_on(e)
      local at = text(e.at)
      if e.action == 'set' and text(e.department) ~= '' then
        local h = hold_for(e.department)
        if a then h.ard = '1' end
        if n then h.nd = '1' end
        h.name = rec[6] or h.name
        h.business = text(e.business, h.business)
        h.basis = text(e.basis, h.basis)
        h['until'] = text(e['until'], h['until'])
        h.set_at, h.set_by = at, text(e.actor)
        h.updated_at, h.updated_by = at, text(e.actor)
        touched(h, at)
      elseif e.action == 'release' then
        for _, d in ipairs(order) do
          local h = holds[d]
          if (a and h.ard == '1') or (n and h.nd == '1') then
            if a then h.ard = '0' end
            if n then h.nd = '0' end
            h.updated_at, h.updated_by = at, text(e.actor)
            touched(h, at)
            changed[d] = true
          end
        end
      end
    end
  end
  local live = {ard = rec[3] == '1', nd = rec[4] == '1'}
  for _, f in ipairs({'ard', 'nd'}) do
    local held = false
    for _, d in ipairs(order) do
      if not live[f] and holds[d][f] == '1' then
        holds[d][f] = '0'
        changed[d] = true
      end
      if holds[d][f] == '1' then held = true end
    end
    if live[f] and not held then
      local d = text(rec[5])
      if d == '' then d = order[#order] end
      if not d then return 'orphan' end
      hold_for(d)[f] = '1'
    end
  end
  local new_version = redis.call('HINCRBY', fkey, 'version', 1)
  local na, nn = 0, 0
  for _, d in ipairs(order) do
    local h = holds[d]
    if changed[d] then
      touched(h, text(rec[7], NOW))
      if h.new then h.new = nil else h.version = (tonumber(h.version) or 0) + 1 end
      redis.call('HSET', hold_key(pk), d, cjson.encode(h))
      local dept_ard, dept_nd = h.ard == '1' and 1 or 0, h.nd == '1' and 1 or 0
      redis.call('RPUSH', hold_history_key(pk, d), cjson.encode({action = 'upgrade', at = NOW,
        actor = actor, department = d, business = h.business, basis = h.basis,
        ['until'] = h['until'], version = new_version, ard = live.ard and 1 or 0,
        nd = live.nd and 1 or 0, hold_version = h.version, dept_ard = dept_ard,
        dept_nd = dept_nd}))
      emit('flag.upgraded', actor, {'subject', pk, 'ard', live.ard and '1' or '0',
        'nd', live.nd and '1' or '0', 'department', d, 'business', h.business, 'basis', h.basis,
        'version', tostring(new_version), 'dept_ard', tostring(dept_ard),
        'dept_nd', tostring(dept_nd), 'hold_version', tostring(h.version)})
    end
    if h.ard == '1' then na = na + 1 end
    if h.nd == '1' then nn = nn + 1 end
  end
  redis.call('HSET', fkey, 'model', '2', 'ard_holds', na, 'nd_holds', nn,
    'legacy_seen', legacy_len)
  redis.call('HDEL', fkey, 'name', 'department', 'business', 'basis', 'until', 'updated_by')
  redis.call('DEL', P .. 'flagdepts:' .. pk)
  -- the record's one pending release request becomes its department's
  local pending = redis.call('GET', P .. 'relreqof:' .. pk)
  if pending then
    local d = redis.call('HGET', P .. 'relreq:' .. pending, 'department')
    if d then redis.call('SET', pending_key(pk, d), pending) end
    redis.call('DEL', P .. 'relreqof:' .. pk)
  end
  return 'upgraded'
end
