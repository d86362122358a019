-- What a requester may learn of its query (GetQueryResult), in one read. A requester must be
-- registered and still hold a right to the query's affair / procedure (a revoked right stops the
-- answer too).
-- KEYS[1] requester, KEYS[2] idempotency key, KEYS[3] the requester's rights. ARGV[4] org, ARGV[5] pn.
-- -> {'refused'} | {'not_permitted'} | {'unknown'}
--    | {'found', id, state, outcome, sealed answer, sealed notice}
if redis.call('EXISTS', KEYS[1]) == 0 then
  emit('security.unknown_requester', 'requester:' .. ARGV[4],
    {'org', ARGV[4], 'pn', ARGV[5], 'operation', 'GetQueryResult', 'decision', 'refused',
     'reason', 'NOT_AUTHORIZED'})
  return {'refused'}
end
local id = redis.call('GET', KEYS[2])
if not id then return {'unknown'} end
local q = redis.call('HMGET', P .. 'query:' .. id, 'state', 'outcome', 'notice', 'affair',
  'procedure')
if q[4] and not (redis.call('SISMEMBER', KEYS[3], q[4]) == 1
    or redis.call('SISMEMBER', KEYS[3], q[4] .. ':' .. (q[5] or '')) == 1) then
  emit('security.requester_not_permitted', 'requester:' .. ARGV[4],
    {'org', ARGV[4], 'pn', ARGV[5], 'affair', q[4], 'procedure', q[5] or '',
     'operation', 'GetQueryResult', 'decision', 'refused', 'reason', 'NOT_AUTHORIZED'})
  return {'not_permitted'}
end
local ans = redis.call('GET', P .. 'ans:' .. id)
return {'found', id, q[1] or 'unknown', q[2] or '', ans or '', q[3] or ''}
