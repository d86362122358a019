-- Admit one 照会依頼, in one atomic step: gather the facts (is the requester registered, does it
-- hold a right to the affair / procedure (deny by default), is this (requester, processing
-- number) already a query, does the subject resolve, its person's flags, an open review of the
-- subject or the person), look the decision up in the table made from gateway/decision.py
-- decide(), and act on it: a refusal stores nothing, only the security event; a resubmission
-- answers with the first query; a hold or a forward reserves the query as RECEIVED (the hold
-- itself is lua/hold.lua, acknowledged; the forward waits for the upstream).
-- KEYS[1] requester, KEYS[2] its rights, KEYS[3] idempotency, KEYS[4] new query,
-- KEYS[5..] directory keys (newest first)
-- ARGV[4] id, ARGV[5] org, ARGV[6] pn, ARGV[7] affair, ARGV[8] procedure, ARGV[9] item,
-- ARGV[10] requested_at, ARGV[11] requester non-disclosure, ARGV[12] sealed request,
-- ARGV[13..] subject keys (newest first; the first is stored on the query)
-- -> name/value pairs (gateway/store/replies/ AdmitReply): action, reason, id, state (of an
--    existing query), and the facts: registered, permitted, existing, known, ard, nd, review
--#rules admit
local registered = redis.call('EXISTS', KEYS[1]) == 1
local permitted = registered and (redis.call('SISMEMBER', KEYS[2], ARGV[7]) == 1
  or redis.call('SISMEMBER', KEYS[2], ARGV[7] .. ':' .. ARGV[8]) == 1)
local existing = redis.call('GET', KEYS[3])
local person = resolve(5, #KEYS)
local ard, nd = false, false
if person then ard, nd = flags_of(person) end
local review = review_of(13, #ARGV, person)
local action, reason = split_outcome(decided('admit',
  {registered, permitted, existing, person, ard, review}))
local function reply(id, state)
  return {'action', action, 'reason', reason, 'id', id or '', 'state', state or '',
    'registered', registered and '1' or '0', 'permitted', permitted and '1' or '0',
    'existing', existing and '1' or '0', 'known', person and '1' or '0',
    'ard', ard and '1' or '0', 'nd', nd and '1' or '0', 'review', review or ''}
end
if action == 'refuse' then
  if not registered then
    emit('security.unknown_requester', 'requester:' .. ARGV[5],
      {'org', ARGV[5], 'pn', ARGV[6], 'decision', 'refused', 'reason', reason})
  else
    emit('security.requester_not_permitted', 'requester:' .. ARGV[5],
      {'org', ARGV[5], 'pn', ARGV[6], 'affair', ARGV[7], 'procedure', ARGV[8],
       'operation', 'SubmitQuery', 'decision', 'refused', 'reason', reason})
  end
  return reply()
end
if action == 'existing' then
  return reply(existing, redis.call('HGET', P .. 'query:' .. existing, 'state') or 'unknown')
end
local id = ARGV[4]
redis.call('SET', KEYS[3], id)
-- subject_nd: the person had 不開示該当 when the query arrived; its provision record is then
-- never shown, even if the flag is released before the answer goes out.
redis.call('HSET', KEYS[4], 'id', id, 'state', 'received', 'org', ARGV[5], 'pn', ARGV[6],
  'affair', ARGV[7], 'procedure', ARGV[8], 'item', ARGV[9], 'requested_at', ARGV[10],
  'received_at', NOW, 'req_nd', ARGV[11], 'sealed', ARGV[12], 'subject_key', ARGV[13],
  'person_key', person or '', 'subject_nd', nd and '1' or '0')
redis.call('ZADD', P .. 'inflight', NOW_MS, id)
return reply(id, 'received')
