-- Four-eyes release: the proposer withdraws a proposal nobody is confirming.
-- KEYS[1] proposal. ARGV[4] query id, ARGV[5] login
-- -> {'outcome', 'ok'} | {'outcome', 'none'} | {'outcome', 'not_yours', 'holder', by}
--    | {'outcome', 'confirming', 'confirmer', other}
-- Decides by the table `withdraw` (gateway/step_rules.py withdraw).
--#include claim
--#rules withdraw
local p = redis.call('HMGET', KEYS[1], 'by', 'confirmer')
local outcome = decided('withdraw', {who(p[1]), who(p[2])})
if outcome == 'none' then return {'outcome', outcome} end
if outcome == 'not_yours' then return {'outcome', outcome, 'holder', p[1]} end
if outcome == 'confirming' then return {'outcome', outcome, 'confirmer', p[2]} end
if outcome ~= 'ok' then error('staff_withdraw: ' .. outcome) end
redis.call('DEL', KEYS[1])
emit('staff.release_withdrawn', 'staff:' .. ARGV[5], {'query', ARGV[4]})
return {'outcome', 'ok'}
