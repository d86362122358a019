-- Give a claim back. KEYS[1] claim. ARGV[4] query id, ARGV[5] login
-- -> {'ok'} | {'not_yours', holder or ''}
--#include claim
local holder = claim_of(KEYS[1])
if holder ~= ARGV[5] then return {'not_yours', holder or ''} end
redis.call('DEL', KEYS[1])
emit('staff.unclaimed', 'staff:' .. ARGV[5], {'query', ARGV[4]})
return {'ok'}
