-- Fold a run of the inbox of attempts (gateway/notices.py): each holding department's attempts,
-- their mails in the outbox, and the pattern rules' counts (gateway/rules.py), in one step that
-- applies only where the last fold ended (two processes never fold an entry twice), and drops the
-- entries it folded. Keys built from the prefix as gateway/store/keys.py says.
-- KEYS[1] fold state (hash: cursor), KEYS[2] inbox
-- ARGV[4] expected cursor ('' for none), ARGV[5] new cursor, ARGV[6] JSON {ids: inbox ids folded,
--   attempts: [{id, department, kind, event, at, ms, person, org, query, operation, reason,
--   stopped, review, reader, mail (a new mail's id, '' without a mailbox)}], observations:
--   [{rule, key, member, ms}], limits: gateway.rules.Limits}
-- -> {'outcome', 'moved', 'cursor', cursor now}
--    | {'outcome', 'ok', 'attempts', attempts made, 'fired', {rule, key, rule, key,
--     ...}: the rules fired}
-- Decides by the tables `pattern` and `pattern_rate` (gateway/pattern_rules.py count_fires,
-- rate_fires): each count reduced to booleans against the limits, then looked up.
--#rules pattern pattern_rate
local now = redis.call('HGET', KEYS[1], 'cursor') or ''
if now ~= ARGV[4] then return {'outcome', 'moved', 'cursor', now} end
local run = cjson.decode(ARGV[6])
local L = run.limits
local fired_rules = {}

for _, a in ipairs(run.attempts) do
  redis.call('HSET', P .. 'attempt:' .. a.id, 'id', a.id, 'department', a.department,
    'kind', a.kind, 'event', a.event, 'at', a.at, 'ms', a.ms, 'person', a.person, 'org', a.org,
    'query', a.query, 'operation', a.operation, 'reason', a.reason, 'stopped', a.stopped,
    'review', a.review, 'reader', a.reader, 'state', 'open')
  redis.call('ZADD', P .. 'attempts:of:' .. a.department, a.ms, a.id)
  redis.call('ZADD', P .. 'attempts:open:' .. a.department, a.ms, a.id)
  if a.mail ~= '' then
    -- one mail per department gathers the attempts until it is taken for sending
    local pending = redis.call('GET', P .. 'mail:pending:' .. a.department)
    if pending and redis.call('HGET', P .. 'mail:' .. pending, 'state') == 'waiting' then
      redis.call('HINCRBY', P .. 'mail:' .. pending, 'count', 1)
      redis.call('HSET', P .. 'mail:' .. pending, 'last', a.at)
    else
      redis.call('HSET', P .. 'mail:' .. a.mail, 'id', a.mail, 'department', a.department,
        'count', 1, 'first', a.at, 'last', a.at, 'state', 'waiting', 'tries', 0,
        'created_at', NOW, 'created_ms', NOW_MS)
      redis.call('ZADD', P .. 'mail:outbox', NOW_MS, a.mail)
      redis.call('SET', P .. 'mail:pending:' .. a.department, a.mail)
    end
  end
end

-- A rule fires once per window for its person or requester: not again while its last firing is
-- at or after `since`. Whether it fired in its window (read only).
local function fired_since(rule, key, since)
  local last = redis.call('ZSCORE', P .. 'rules:fired:' .. rule, key)
  return last ~= false and tonumber(last) >= since
end

-- Whether rule `name`'s table says fire for these facts; a firing is recorded as fired.
local function fires(name, facts, rule, key, ms)
  local outcome = decided(name, facts)
  if outcome == 'quiet' then return false end
  if outcome ~= 'fire' then error('attempts_fold: ' .. outcome) end
  local fired = P .. 'rules:fired:' .. rule
  redis.call('ZADD', fired, ms, key)
  redis.call('ZREMRANGEBYSCORE', fired, '-inf', '(' .. tostring(ms - L.requesters_ms - L.day_ms))
  fired_rules[#fired_rules + 1] = rule
  fired_rules[#fired_rules + 1] = key
  return true
end

-- how many were counted for `key` in the window ending at `ms` (rolling), old ones dropped
local function in_window(rule, key, member, ms, window, newest)
  local z = P .. 'rules:' .. rule .. ':' .. key
  if newest then
    redis.call('ZADD', z, 'GT', ms, member)  -- a requester counts once, at its latest
  else
    redis.call('ZADD', z, ms, member)
  end
  redis.call('ZREMRANGEBYSCORE', z, '-inf', '(' .. tostring(ms - window))
  return redis.call('ZCOUNT', z, ms - window, ms)
end

for _, o in ipairs(run.observations) do
  if o.rule == 'requesters' then
    local n = in_window('requesters', o.key, o.member, o.ms, L.requesters_ms, true)
    local since = o.ms - L.requesters_ms
    if fires('pattern', {n >= L.requesters, fired_since('requesters', o.key, since)},
        'requesters', o.key, o.ms) then
      emit('security.pattern_requesters', 'gateway', {'subject', o.key,
        'requesters', tostring(n), 'threshold', tostring(L.requesters),
        'days', tostring(L.requesters_days), 'decision', 'alert'})
    end
  elseif o.rule == 'portal_views' then
    local n = in_window('portal_views', o.key, o.member, o.ms, L.day_ms, false)
    if fires('pattern', {n >= L.portal_views, fired_since('portal_views', o.key, o.ms - L.day_ms)},
        'portal_views', o.key, o.ms) then
      emit('security.pattern_portal_views', 'gateway', {'subject', o.key, 'count', tostring(n),
        'threshold', tostring(L.portal_views), 'hours', '24', 'decision', 'alert'})
    end
  elseif o.rule == 'probing' then
    local n = in_window('probing', o.key, o.member, o.ms, L.day_ms, false)
    if fires('pattern', {n >= L.probing, fired_since('probing', o.key, o.ms - L.day_ms)},
        'probing', o.key, o.ms) then
      emit('security.pattern_probing', 'gateway', {'org', o.key, 'count', tostring(n),
        'threshold', tostring(L.probing), 'hours', '24', 'decision', 'alert'})
    end
  elseif o.rule == 'requester_rate' then
    -- counts per Japanese calendar day (UTC+9), the day's number since the epoch as the field
    local h = P .. 'rules:requester_rate:' .. o.key
    local day = math.floor((o.ms + 9 * 3600000) / L.day_ms)
    local today = redis.call('HINCRBY', h, tostring(day), 1)
    local sum, squares = 0, 0
    for i = 1, L.rate_days do
      local c = tonumber(redis.call('HGET', h, tostring(day - i)) or '0')
      sum = sum + c
      squares = squares + c * c
    end
    local mean = sum / L.rate_days
    local sd = math.sqrt(math.max(0, squares / L.rate_days - mean * mean))
    local usual = mean + L.rate_k * sd
    for _, d in ipairs(redis.call('HKEYS', h)) do
      if tonumber(d) < day - L.rate_days then redis.call('HDEL', h, d) end
    end
    local day_start = day * L.day_ms - 9 * 3600000
    local facts = {today >= L.rate_floor, today > usual,
      fired_since('requester_rate', o.key, day_start)}
    if fires('pattern_rate', facts, 'requester_rate', o.key, o.ms) then
      emit('security.pattern_requester_rate', 'gateway', {'org', o.key,
        'count', tostring(today), 'usual', string.format('%.2f', usual),
        'mean', string.format('%.2f', mean), 'sd', string.format('%.2f', sd),
        'floor', tostring(L.rate_floor), 'days', tostring(L.rate_days), 'decision', 'alert'})
    end
  end
end

if #run.ids > 0 then redis.call('XDEL', KEYS[2], unpack(run.ids)) end
redis.call('HSET', KEYS[1], 'cursor', ARGV[5])
return {'outcome', 'ok', 'attempts', #run.attempts, 'fired', fired_rules}
