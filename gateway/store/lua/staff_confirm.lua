-- Four-eyes release, step 2: a second approver takes the proposal to confirm it. Nobody confirms
-- their own proposal. The confirmer holds the claim and is marked on the proposal, so that the
-- proposer cannot withdraw it while the release is under way.
-- KEYS[1] query, KEYS[2] claim, KEYS[3] proposal. ARGV[4] query id, ARGV[5] login,
-- ARGV[6] claim time (ms)
-- -> {'outcome', 'ok', 'proposer', proposer, 'notice', sealed notice, 'seen', the proposer's seen
--     token} | {'outcome', 'not_held', 'state', state} | {'outcome', 'none'}
--    | {'outcome', 'same_person'} | {'outcome', 'taken', 'holder', holder}
--    | {'outcome', 'confirming', 'confirmer', other}
-- Decides by the table `confirm` (gateway/step_rules.py confirm).
--#include claim
--#rules confirm
local state = redis.call('HGET', KEYS[1], 'state')
local p = redis.call('HMGET', KEYS[3], 'by', 'notice', 'confirmer', 'seen')
local holder = claim_of(KEYS[2])
local outcome = decided('confirm', {state == 'held', who(p[1]), who(holder), who(p[3])})
if outcome == 'not_held' then return {'outcome', outcome, 'state', state or 'unknown'} end
if outcome == 'none' or outcome == 'same_person' then return {'outcome', outcome} end
if outcome == 'taken' then return {'outcome', outcome, 'holder', holder} end
if outcome == 'confirming' then return {'outcome', outcome, 'confirmer', p[3]} end
if outcome ~= 'ok' then error('staff_confirm: ' .. outcome) end
redis.call('HSET', KEYS[3], 'confirmer', ARGV[5])
set_claim(KEYS[2], ARGV[5], tonumber(ARGV[6]))
return {'outcome', 'ok', 'proposer', p[1], 'notice', p[2], 'seen', p[4] or ''}
