-- Four-eyes release, step 1: the approver holding the claim proposes the release with its
-- handling notice, and gives the claim up so that a second approver can take it and confirm.
-- KEYS[1] query, KEYS[2] claim, KEYS[3] proposal. ARGV[4] query id, ARGV[5] login,
-- ARGV[6] sealed notice, ARGV[7] the token of the subject's facts the proposer was shown
-- -> {'outcome', 'ok'} | {'outcome', 'not_held', 'state', state}
--    | {'outcome', 'not_claimed', 'holder', holder} | {'outcome', 'proposed', 'by', by}
-- Decides by the table `propose` (gateway/step_rules.py propose).
--#include claim
--#rules propose
local state = redis.call('HGET', KEYS[1], 'state')
local holder = claim_of(KEYS[2])
local by = redis.call('HGET', KEYS[3], 'by')
local outcome = decided('propose', {state == 'held', who(holder), who(by)})
if outcome == 'not_held' then return {'outcome', outcome, 'state', state or 'unknown'} end
if outcome == 'not_claimed' then return {'outcome', outcome, 'holder', holder or ''} end
if outcome == 'proposed' then return {'outcome', outcome, 'by', by} end
if outcome ~= 'ok' then error('staff_propose: ' .. outcome) end
redis.call('HSET', KEYS[3], 'by', ARGV[5], 'notice', ARGV[6], 'at', NOW, 'seen', ARGV[7])
redis.call('HDEL', KEYS[3], 'confirmer')
redis.call('DEL', KEYS[2])
emit('staff.release_proposed', 'staff:' .. ARGV[5], {'query', ARGV[4]})
return {'outcome', 'ok'}
