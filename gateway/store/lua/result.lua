-- What a requester may learn of its query (GetQueryResult, or the same query sent again), in one
-- step. A requester must be registered and still hold a right to the query's affair / procedure
-- (a revoked right stops the answer too: gateway/decision.py result_access). A stored answer is
-- checked again against the flag and the directory as they are now (gateway/recheck.py
-- answer_withheld, whose table this step looks the outcome up in): if the person was flagged
-- since, or the subject resolves to someone else (or no one), or the subject or the person was
-- put under review (quarantine) since the answer was given, the answer is withheld and the query
-- goes back to staff (PROVIDED | RELEASED -> HELD), recorded here.
-- KEYS[1] requester, KEYS[2] idempotency key, KEYS[3] the requester's rights.
-- ARGV[4] org, ARGV[5] pn, ARGV[6] operation (GetQueryResult | SubmitQuery)
-- -> name/value pairs (gateway/store/replies/ ResultReply): access (refused | unknown |
--    not_permitted | found), id, state, outcome, answer (sealed), notice (sealed), withheld
--    (the reason, or '')
--#rules result_access withheld
local registered = redis.call('EXISTS', KEYS[1]) == 1
local id = registered and redis.call('GET', KEYS[2]) or false
local qkey = P .. 'query:' .. (id or '')
local q = id and redis.call('HMGET', qkey, 'state', 'outcome', 'notice', 'affair', 'procedure',
  'subject_key', 'person_key', 'release_person', 'release_version', 'decided_at', 'item') or {}
local permitted = not q[4] or redis.call('SISMEMBER', KEYS[3], q[4]) == 1
  or redis.call('SISMEMBER', KEYS[3], q[4] .. ':' .. (q[5] or '')) == 1
local access = decided('result_access', {registered, id, permitted})
if access ~= 'found' then
  if access == 'refused' then
    emit('security.unknown_requester', 'requester:' .. ARGV[4],
      {'org', ARGV[4], 'pn', ARGV[5], 'operation', ARGV[6], 'decision', 'refused',
       'reason', 'NOT_AUTHORIZED'})
  elseif access == 'not_permitted' then
    emit('security.requester_not_permitted', 'requester:' .. ARGV[4],
      {'org', ARGV[4], 'pn', ARGV[5], 'affair', q[4], 'procedure', q[5] or '',
       'operation', ARGV[6], 'decision', 'refused', 'reason', 'NOT_AUTHORIZED'})
  end
  return {'access', access}
end
-- The reason of an open review of (scope, key) opened at or after `since` (the answer's time),
-- the first in sort order, or false: a review opened before a staff release was in front of the
-- approver who released.
local function review_since(scope, key, since)
  if not key or key == '' then return false end
  local found = false
  local open = redis.call('HGETALL', P .. 'quarof:' .. scope .. ':' .. key)
  for i = 1, #open, 2 do
    local opened = redis.call('HGET', P .. 'quar:' .. open[i], 'opened_at') or ''
    if opened >= since and (not found or open[i + 1] < found) then found = open[i + 1] end
  end
  return found
end

-- Whether the person's flag record changed after a staff release: its version is not the one
-- the release was judged on, or (a release recorded before versions were kept) its last change
-- is later than the release. The one reduction of a non-finite fact this step makes.
local function flag_changed_since(person, version)
  if q[9] then return q[9] ~= version end
  local updated = redis.call('HGET', P .. 'flag:' .. person, 'updated_at') or ''
  return updated > (q[10] or '')
end

local state = q[1]
local answered, person = '', ''
local moved, review, ard, changed = false, false, false, false
-- Only an answered query has an answer to withhold: for any other, the table hands nothing out
-- whatever the facts, so they are not read.
if state == 'provided' or state == 'released' then
  local version
  person, version = subject_now(q[6])
  -- whom the answer was about: the person of the automatic answer, or of the staff release
  answered = q[7] or ''
  if state == 'released' and q[8] then answered = q[8] end
  moved = person ~= answered
  local since = q[10] or ''
  local by_subject = review_since('subject', q[6], since)
  local by_person = review_since('person', person, since)
  review = by_subject
  if by_person and (not review or by_person < review) then review = by_person end
  ard = person ~= '' and flags_of(person)
  changed = state == 'released' and person ~= '' and flag_changed_since(person, version)
end
local why = state and decided('withheld', {state, moved, review, ard, changed}) or ''
if why ~= '' then
  if not may_move('recheck', state, 'held') then error('rules: recheck cannot hold a ' .. state) end
  -- The provision record of the answer given stays (it happened); the stored answer goes, so
  -- that only a release by staff (which asks the upstream afresh) can answer again.
  redis.call('DEL', P .. 'ans:' .. id)
  redis.call('HSET', qkey, 'withheld_from', state, 'withheld_at', NOW)
  -- the stop the holding departments are told of (of the person answered about, and of whom
  -- the subject resolves to now); the hold that follows is part of it
  emit_stop('query.answer_withheld', 'requester:' .. ARGV[4],
    {'query', id, 'org', ARGV[4], 'pn', ARGV[5], 'item', q[11] or '', 'subject', answered,
     'subject_now', person, 'was', state, 'reason', why, 'operation', ARGV[6],
     'decision', 'held', 'holders', holders_of({answered, person}, false)})
  hold_query(qkey, id, why, 'gateway', 'query.answer_withheld')
  return {'access', access, 'id', id, 'state', 'held', 'withheld', why}
end
local ans = redis.call('GET', P .. 'ans:' .. id)
-- An answer is kept for its retention by the gateway's clock (the key's expiry only clears it
-- away); one stored before its end was recorded has only the key's expiry.
local until_ms = tonumber(redis.call('HGET', qkey, 'ans_until_ms') or '')
if ans and until_ms and until_ms <= NOW_MS then
  redis.call('DEL', P .. 'ans:' .. id)
  ans = false
end
return {'access', access, 'id', id, 'state', state or 'unknown', 'outcome', q[2] or '',
  'answer', ans or '', 'notice', q[3] or '', 'withheld', ''}
