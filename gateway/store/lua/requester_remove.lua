-- Remove a requester and every right it had. KEYS[1] requester, KEYS[2] index, KEYS[3] rights.
-- ARGV[4] org, ARGV[5] actor.
-- -> {'outcome', 'removed'} (it was registered) | {'outcome', 'unknown'}
-- Decides nothing: a removal only takes rights away (the caller checked the operator's
-- command); `unknown` just says there was no such requester.
local existed = redis.call('DEL', KEYS[1])
local rights = redis.call('SCARD', KEYS[3])
redis.call('DEL', KEYS[3])
redis.call('ZREM', KEYS[2], ARGV[4])
emit('requester.removed', ARGV[5], {'org', ARGV[4], 'rights_dropped', tostring(rights)})
return {'outcome', existed == 1 and 'removed' or 'unknown'}
