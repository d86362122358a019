-- Shared by every script: loaded in front of each one (see gateway/store/scripts.py).
-- ARGV[1] key prefix, ARGV[2] now (ISO 8601), ARGV[3] now (ms since epoch); scripts' own ARGV follow.
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

-- The atena person key behind a subject, trying each key version's directory key in turn.
local function resolve(first, last)
  for i = first, last do
    local a = redis.call('GET', KEYS[i])
    if a then return a end
  end
  return false
end

-- The same, reading every key version's directory key whatever it finds: the same store work
-- for a known and an unknown subject (the portal's views, whose cost must not tell them apart).
local function resolve_every(first, last)
  local found = false
  for i = first, last do
    local a = redis.call('GET', KEYS[i])
    if a and not found then found = a end
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

local function hold_query(qkey, id, reason, actor)
  redis.call('HSET', qkey, 'state', 'held', 'reason', reason, 'held_at', NOW)
  redis.call('ZADD', P .. 'held', NOW_MS, id)
  redis.call('ZADD', P .. 'holds', NOW_MS, id)
  redis.call('ZREM', P .. 'inflight', id)
  local q = redis.call('HMGET', qkey, 'org', 'pn', 'item', 'subject_key', 'person_key')
  emit('query.held', actor, {'query', id, 'org', q[1], 'pn', q[2], 'item', q[3],
    'subject', either(q[5], q[4]), 'reason', reason})
end

-- Whom a subject key resolves to now ('' for no one), and the version of that person's flag
-- record ('0' without one; every flag change raises it): what a stored answer is re-checked
-- against, and what staff are shown of a held query before they release it.
local function subject_now(subject_key)
  if not subject_key or subject_key == '' then return '', '0' end
  local person = redis.call('GET', P .. 'dir:' .. subject_key)
  if not person then return '', '0' end
  return person, redis.call('HGET', P .. 'flag:' .. person, 'version') or '0'
end

-- The token of those facts, as a release carries it (gateway/recheck.py seen_token: the same).
local function seen_token(person, version)
  return redis.sha1hex(person .. '|' .. version)
end
