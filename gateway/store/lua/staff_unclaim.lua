-- Give a claim back. KEYS[1] claim. ARGV[4] query id, ARGV[5] login
-- -> {'outcome', 'ok'} | {'outcome', 'not_yours', 'holder', holder or ''}
-- Decides by the table `unclaim` (gateway/step_rules.py unclaim).
--#include claim
--#rules unclaim
local holder = claim_of(KEYS[1])
local outcome = decided('unclaim', {who(holder)})
if outcome == 'not_yours' then return {'outcome', outcome, 'holder', holder or ''} end
if outcome ~= 'ok' then error('staff_unclaim: ' .. outcome) end
redis.call('DEL', KEYS[1])
emit('staff.unclaimed', 'staff:' .. ARGV[5], {'query', ARGV[4]})
return {'outcome', 'ok'}
