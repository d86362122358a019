-- Give a claim back. KEYS[1] claim. ARGV[4] query id, ARGV[5] login
-- -> {'outcome', 'ok'} | {'outcome', 'not_yours', 'holder', holder or ''}
--#include claim
local holder = claim_of(KEYS[1])
if holder ~= ARGV[5] then return {'outcome', 'not_yours', 'holder', holder or ''} end
redis.call('DEL', KEYS[1])
emit('staff.unclaimed', 'staff:' .. ARGV[5], {'query', ARGV[4]})
return {'outcome', 'ok'}
