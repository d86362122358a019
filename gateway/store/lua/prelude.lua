-- Shared by every script: loaded in front of each one (see gateway/store/scripts.py).
-- ARGV[1] key prefix, ARGV[2] now (ISO 8601), ARGV[3] now (ms since epoch); scripts' own ARGV follow.
-- Decides nothing: helpers in front of every script that gather facts (resolve, flags_of,
-- review_of, flag_status, subject_now) and record what a script decided (emit, emit_stop,
-- hold_query, open_review); the decisions are the scripts' tables (`--#rules`).
local P = ARGV[1]
local NOW = ARGV[2]
local NOW_MS = tonumber(ARGV[3])

-- Append one event to the raw event stream, in the same atomic step as the action it records:
-- if it cannot be written, the action does not happen either. The sealer (gateway/audit) later
-- numbers, chains and signs it into the trail. `fields` are name/value pairs: person keys only,
-- never a name, number, code or answer. The switch below is rewritten only for the benchmark's
-- audit-off comparison (gateway/store/scripts.py).
local AUDIT = true
local function emit(kind, actor, fields)
  if not AUDIT then return false end
  local args = {P .. 'events', '*', 'kind', kind, 'at', NOW, 'actor', actor}
  for i = 1, #fields do args[#args + 1] = fields[i] end
  return redis.call('XADD', unpack(args))
end

-- A directory entry's value is the atena person key, '|', and the gateway's MAC over the subject
-- key and the person key (gateway/store/directory.py; entries written before MACs have none).
-- Decisions read the person key alone: the MAC is for the check (gateway/verify), which finds an
-- entry written past the gateway, since Redis holds no key to make one.
local function person_of(value)
  if not value then return false end
  local bar = string.find(value, '|', 1, true)
  if bar then return string.sub(value, 1, bar - 1) end
  return value
end

-- The atena person key behind a subject, trying each key version's directory key in turn.
local function resolve(first, last)
  for i = first, last do
    local a = redis.call('GET', KEYS[i])
    if a then return person_of(a) end
  end
  return false
end

-- The same, reading every key version's directory key whatever it finds: the same store work
-- for a known and an unknown subject (the portal's views, whose cost must not tell them apart).
local function resolve_every(first, last)
  local found = false
  for i = first, last do
    local a = redis.call('GET', KEYS[i])
    if a and not found then found = person_of(a) end
  end
  return found
end

-- Both flags of a person: ard = 自動応答不可, nd = 不開示該当.
local function flags_of(person)
  local v = redis.call('HMGET', P .. 'flag:' .. person, 'ard', 'nd')
  return v[1] == '1', v[2] == '1'
end

-- The first non-empty of two values (HMGET gives false for a missing field, '' is a value in Lua).
local function either(a, b)
  if a and a ~= '' then return a end
  if b and b ~= '' then return b end
  return ''
end

-- The holding departments (保有課) to tell of a stop about these persons: every department whose
-- own hold on one of them has a flag on at this moment, as JSON {department: person key} (a
-- department holding two of them: the first given). `every`: read the holds of each entry even
-- when it is '' (no one), so that the store work is the same whoever the persons are (the
-- portal's views). Read only where something is stopped, never on the automatic path.
local function holders_of(persons, every)
  local out, n = {}, 0
  for _, pk in ipairs(persons) do
    if every or (pk and pk ~= '') then
      local raw = redis.call('HGETALL', P .. 'flagholds:' .. (pk or ''))
      for i = 1, #raw, 2 do
        if not out[raw[i]] then
          local h = cjson.decode(raw[i + 1])
          if h.ard == '1' or h.nd == '1' then
            out[raw[i]] = pk
            n = n + 1
          end
        end
      end
    end
  end
  if n == 0 then return '{}' end
  return cjson.encode(out)
end

-- Record a stop: its event, and the same in the inbox of attempts (attempts:inbox), in this one
-- atomic step, so that the holding departments named in its `holders` are told of it
-- (gateway/notices.py reads the inbox, gateway/attempts.py says which stops are attempts).
-- Nothing acknowledged can be lost between the stop and the telling: both are written or neither.
local function emit_stop(kind, actor, fields)
  local id = emit(kind, actor, fields)
  local args = {P .. 'attempts:inbox', '*', 'event', id or '', 'kind', kind, 'at', NOW,
    'ms', ARGV[3], 'actor', actor}
  for i = 1, #fields do args[#args + 1] = fields[i] end
  redis.call('XADD', unpack(args))
  return id
end

-- A query held: the holding departments of whoever it is about now (the person it was admitted
-- about, and whom its subject resolves to at this moment) are told, unless `told_by` says that
-- another stop of this same step tells them (an answer withheld: lua/result.lua).
local function hold_query(qkey, id, reason, actor, told_by)
  redis.call('HSET', qkey, 'state', 'held', 'reason', reason, 'held_at', NOW)
  redis.call('ZADD', P .. 'held', NOW_MS, id)
  redis.call('ZADD', P .. 'holds', NOW_MS, id)
  redis.call('ZREM', P .. 'inflight', id)
  local q = redis.call('HMGET', qkey, 'org', 'pn', 'item', 'subject_key', 'person_key')
  local ev = {'query', id, 'org', q[1], 'pn', q[2], 'item', q[3], 'subject', either(q[5], q[4]),
    'reason', reason}
  if told_by then
    emit('query.held', actor, ev)
    return
  end
  local now = q[4] and redis.call('GET', P .. 'dir:' .. q[4]) or ''
  ev[#ev + 1] = 'holders'
  ev[#ev + 1] = holders_of({q[5] or '', now or ''}, false)
  emit_stop('query.held', actor, ev)
end

-- Holds for review (quarantine, gateway/store/quarantine.py): while a subject or a person has an
-- open review, every query about it is held, whatever its flags say, until staff confirm the
-- review. `scope` is 'subject' (a subject key) or 'person' (an atena person key).
-- The reason of an open review of (scope, key) (the first in sort order if several), or false.
local function under_review(scope, key)
  if not key or key == '' then return false end
  local reasons = redis.call('HVALS', P .. 'quarof:' .. scope .. ':' .. key)
  if #reasons == 0 then return false end
  table.sort(reasons)
  return reasons[1]
end

-- The reason to hold a query about a subject (every version of its key: `first`..`last` of
-- ARGV) and the person it resolves to, or false.
local function review_of(first, last, person)
  for i = first, last do
    local reason = under_review('subject', ARGV[i])
    if reason then return reason end
  end
  return under_review('person', person)
end

-- The same for the portal's views, for one subject key: the same store work whoever the person
-- is (both reads, also for an unknown person), as the portal's cost must not tell them apart.
local function review_every(subject_key, person)
  local found = false
  for _, key in ipairs({'subject:' .. subject_key, 'person:' .. (person or '')}) do
    local reasons = redis.call('HVALS', P .. 'quarof:' .. key)
    if #reasons > 0 and not found then
      table.sort(reasons)
      found = reasons[1]
    end
  end
  return found
end

-- Open a review with id `id` (random, from the caller). `fields`: name/value pairs kept on the
-- review and recorded in its event (person keys only).
local function open_review(id, scope, key, reason, actor, fields)
  local rkey = P .. 'quar:' .. id
  redis.call('HSET', rkey, 'id', id, 'scope', scope, 'key', key, 'reason', reason,
    'state', 'open', 'opened_at', NOW, 'opened_by', actor)
  if #fields > 0 then redis.call('HSET', rkey, unpack(fields)) end
  redis.call('HSET', P .. 'quarof:' .. scope .. ':' .. key, id, reason)
  redis.call('ZADD', P .. 'quars', NOW_MS, id)
  redis.call('ZADD', P .. 'quarall', NOW_MS, id)
  local ev = {'review', id, 'scope', scope, 'subject', key, 'reason', reason}
  for i = 1, #fields do ev[#ev + 1] = fields[i] end
  emit('quarantine.opened', actor, ev)
end

-- Whether a person has a flag now ('now'), had one that is released ('before': the record and
-- its history stay), or never had one ('never').
local function flag_status(person)
  if not person or person == '' then return 'never' end
  local v = redis.call('HMGET', P .. 'flag:' .. person, 'ard', 'nd', 'version')
  if v[1] == '1' or v[2] == '1' then return 'now' end
  if v[3] then return 'before' end
  return 'never'
end

-- Whom a subject key resolves to now ('' for no one), and the version of that person's flag
-- record ('0' without one; every flag change raises it): what a stored answer is re-checked
-- against, and what staff are shown of a held query before they release it.
local function subject_now(subject_key)
  if not subject_key or subject_key == '' then return '', '0' end
  local person = person_of(redis.call('GET', P .. 'dir:' .. subject_key))
  if not person then return '', '0' end
  return person, redis.call('HGET', P .. 'flag:' .. person, 'version') or '0'
end

-- The token of those facts, as a release carries it (gateway/recheck.py seen_token: the same).
local function seen_token(person, version)
  return redis.sha1hex(person .. '|' .. version)
end
