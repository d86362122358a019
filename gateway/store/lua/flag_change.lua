-- Set or release flags of one or more persons in one atomic step. Every change appends to its
-- person's history (nothing in it is overwritten), records its event and tells every gateway
-- process (cache invalidation) before anything is acknowledged. A batch (the CSV import) happens
-- entirely or not at all: every guard is checked before the first write.
-- KEYS[1] index of persons with a flag record, KEYS[2] epoch
-- ARGV[4] JSON list of changes, each {pk, action (set|release), ard, nd ('1'|'0'|'-': keep),
--   actor, entry (history entry without the outcome), fields (flat k, v list for the record),
--   expect_version (optional: the record must still be at this version),
--   request (optional: the id of the two-person release request this change confirms)}
-- -> {'ok', version, ...} | {'stale', index, version} | {'request', index, reason}
local changes = cjson.decode(ARGV[4])

local function version_of(pk)
  return tonumber(redis.call('HGET', P .. 'flag:' .. pk, 'version') or '0')
end

local function b(v) return v and '1' or '0' end

-- Phase 1: the guards. Nothing is written unless every change may happen.
local requested_by = {}
for i, c in ipairs(changes) do
  if c.request then
    local r = redis.call('HMGET', P .. 'relreq:' .. c.request, 'state', 'requested_by', 'person')
    if not r[1] then return {'request', i, 'unknown'} end
    if r[1] ~= 'pending' then return {'request', i, r[1]} end
    if r[3] ~= c.pk then return {'request', i, 'mismatch'} end
    if r[2] == c.actor then return {'request', i, 'same_person'} end
    requested_by[i] = r[2]
  end
  if c.expect_version and version_of(c.pk) ~= tonumber(c.expect_version) then
    local v = version_of(c.pk)
    if c.request then
      -- The flag changed after the request was made: what was asked no longer describes the
      -- flag, so the request can never be confirmed. It is closed (and says why).
      redis.call('HSET', P .. 'relreq:' .. c.request, 'state', 'superseded', 'decided_at', NOW,
        'decided_by', c.actor)
      redis.call('ZREM', P .. 'relreqs', c.request)
      redis.call('DEL', P .. 'relreqof:' .. c.pk)
      emit('flag.release_superseded', c.actor, {'subject', c.pk, 'request', c.request,
        'version', tostring(v)})
    end
    return {'stale', i, v}
  end
end

-- Phase 2: apply.
local out = {'ok'}
for i, c in ipairs(changes) do
  local fkey = P .. 'flag:' .. c.pk
  local ard, nd = flags_of(c.pk)
  if c.ard ~= '-' then ard = c.ard == '1' end
  if c.nd ~= '-' then nd = c.nd == '1' end
  local before = redis.call('HMGET', fkey, 'department', 'business')
  local version = redis.call('HINCRBY', fkey, 'version', 1)
  redis.call('HSET', fkey, 'ard', b(ard), 'nd', b(nd), 'updated_at', NOW, 'updated_by', c.actor)
  for j = 1, #c.fields, 2 do
    redis.call('HSET', fkey, c.fields[j], c.fields[j + 1])
  end
  local entry = c.entry
  entry.at = NOW
  entry.actor = c.actor
  entry.action = c.action
  entry.version = version
  entry.ard = ard and 1 or 0
  entry.nd = nd and 1 or 0
  if c.request then
    entry.request = c.request
    entry.requested_by = requested_by[i]
  end
  redis.call('RPUSH', P .. 'flaghist:' .. c.pk, cjson.encode(entry))
  if c.action == 'set' and entry.department then
    redis.call('SADD', P .. 'flagdepts:' .. c.pk, entry.department)
  end
  redis.call('ZADD', KEYS[1], NOW_MS, c.pk)
  redis.call('INCR', KEYS[2])
  redis.call('PUBLISH', P .. 'flagchanged', c.pk)
  -- a release names the department that holds the record, for the council's yearly counts
  local ev = {'subject', c.pk, 'ard', b(ard), 'nd', b(nd), 'basis', entry.basis or '',
    'department', entry.department or before[1] or '',
    'business', entry.business or before[2] or '', 'version', tostring(version)}
  if c.request then
    redis.call('HSET', P .. 'relreq:' .. c.request, 'state', 'confirmed', 'decided_at', NOW,
      'decided_by', c.actor)
    redis.call('ZREM', P .. 'relreqs', c.request)
    redis.call('DEL', P .. 'relreqof:' .. c.pk)
    ev[#ev + 1] = 'request'
    ev[#ev + 1] = c.request
    ev[#ev + 1] = 'requested_by'
    ev[#ev + 1] = requested_by[i]
  end
  emit('flag.' .. c.action, c.actor, ev)
  out[#out + 1] = version
end
return out
