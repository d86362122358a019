-- Admit one 照会依頼: read whether the requester is registered and holds a right to the affair /
-- procedure (deny by default), answer a resubmission with the first query, otherwise reserve
-- (requester, processing number) as a RECEIVED query and read the subject's flags, all in one
-- atomic step. A requester that is not registered or not permitted is refused by decide()
-- (gateway/decision.py); this script stores nothing for it, only the security event
-- (tests/test_rights.py holds the two to the same table).
-- KEYS[1] requester, KEYS[2] its rights, KEYS[3] idempotency, KEYS[4] new query,
-- KEYS[5..] directory keys (newest first)
-- ARGV[4] id, ARGV[5] org, ARGV[6] pn, ARGV[7] affair, ARGV[8] procedure, ARGV[9] item,
-- ARGV[10] requested_at, ARGV[11] requester non-disclosure, ARGV[12] sealed request,
-- ARGV[13..] subject keys (newest first; the first is stored on the query)
-- -> {'refused', registered, permitted} | {'existing', id, state}
--    | {'admitted', id, known, ard, nd, person, review}: review is the reason of an open review
--    (quarantine) of the subject or its person, or ''
local registered = redis.call('EXISTS', KEYS[1]) == 1
local permitted = registered and (redis.call('SISMEMBER', KEYS[2], ARGV[7]) == 1
  or redis.call('SISMEMBER', KEYS[2], ARGV[7] .. ':' .. ARGV[8]) == 1)
if not registered then
  emit('security.unknown_requester', 'requester:' .. ARGV[5],
    {'org', ARGV[5], 'pn', ARGV[6], 'decision', 'refused', 'reason', 'NOT_AUTHORIZED'})
  return {'refused', 0, 0}
end
if not permitted then
  emit('security.requester_not_permitted', 'requester:' .. ARGV[5],
    {'org', ARGV[5], 'pn', ARGV[6], 'affair', ARGV[7], 'procedure', ARGV[8],
     'operation', 'SubmitQuery', 'decision', 'refused', 'reason', 'NOT_AUTHORIZED'})
  return {'refused', 1, 0}
end
local existing = redis.call('GET', KEYS[3])
if existing then
  local state = redis.call('HGET', P .. 'query:' .. existing, 'state')
  return {'existing', existing, state or 'unknown'}
end
local id = ARGV[4]
local person = resolve(5, #KEYS)
local ard, nd = false, false
if person then ard, nd = flags_of(person) end
local review = review_of(13, #ARGV, person)
redis.call('SET', KEYS[3], id)
-- subject_nd: the person had 不開示該当 when the query arrived; its provision record is then
-- never shown, even if the flag is released before the answer goes out.
redis.call('HSET', KEYS[4], 'id', id, 'state', 'received', 'org', ARGV[5], 'pn', ARGV[6],
  'affair', ARGV[7], 'procedure', ARGV[8], 'item', ARGV[9], 'requested_at', ARGV[10],
  'received_at', NOW, 'req_nd', ARGV[11], 'sealed', ARGV[12], 'subject_key', ARGV[13],
  'person_key', person or '', 'subject_nd', nd and '1' or '0')
redis.call('ZADD', P .. 'inflight', NOW_MS, id)
if not person then
  return {'admitted', id, 0, 0, 0, '', review or ''}
end
return {'admitted', id, 1, ard and 1 or 0, nd and 1 or 0, person, review or ''}
