-- What a requester may learn of its query (GetQueryResult), in one read.
-- KEYS[1] requester, KEYS[2] idempotency key. ARGV[4] org, ARGV[5] pn.
-- -> {'refused'} | {'unknown'} | {'found', id, state, outcome, sealed answer, sealed notice}
if redis.call('EXISTS', KEYS[1]) == 0 then
  emit('security.unknown_requester', 'requester:' .. ARGV[4],
    {'org', ARGV[4], 'pn', ARGV[5], 'operation', 'GetQueryResult', 'decision', 'refused',
     'reason', 'NOT_AUTHORIZED'})
  return {'refused'}
end
local id = redis.call('GET', KEYS[2])
if not id then return {'unknown'} end
local q = redis.call('HMGET', P .. 'query:' .. id, 'state', 'outcome', 'notice')
local ans = redis.call('GET', P .. 'ans:' .. id)
return {'found', id, q[1] or 'unknown', q[2] or '', ans or '', q[3] or ''}
