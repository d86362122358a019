-- Claim a held query for one approver for a while, so that two people do not work on it at once.
-- Claiming again while holding it renews it; the claim lapses by itself (lua/claim.lua).
-- KEYS[1] query, KEYS[2] claim. ARGV[4] query id, ARGV[5] login, ARGV[6] claim time (ms)
-- -> {'outcome', 'ok'} | {'outcome', 'taken', 'holder', holder, 'left', ms left}
--    | {'outcome', 'not_held', 'state', state}
-- Decides by the table `claim` (gateway/step_rules.py claim).
--#include claim
--#rules claim
local state = redis.call('HGET', KEYS[1], 'state')
local holder, left = claim_of(KEYS[2])
local outcome = decided('claim', {state == 'held', who(holder)})
if outcome == 'not_held' then return {'outcome', outcome, 'state', state or 'unknown'} end
if outcome == 'taken' then return {'outcome', outcome, 'holder', holder, 'left', left} end
if outcome ~= 'ok' then error('staff_claim: ' .. outcome) end
set_claim(KEYS[2], ARGV[5], tonumber(ARGV[6]))
if not holder then emit('staff.claimed', 'staff:' .. ARGV[5], {'query', ARGV[4]}) end
return {'outcome', 'ok'}
