-- Four-eyes release, step 2: a second approver takes the proposal to confirm it. Nobody confirms
-- their own proposal. The confirmer holds the claim and is marked on the proposal, so that the
-- proposer cannot withdraw it while the release is under way.
-- KEYS[1] query, KEYS[2] claim, KEYS[3] proposal. ARGV[4] query id, ARGV[5] login,
-- ARGV[6] claim time (ms)
-- -> {'outcome', 'ok', 'proposer', proposer, 'notice', sealed notice, 'seen', the proposer's seen
--     token} | {'outcome', 'not_held', 'state', state} | {'outcome', 'none'}
--    | {'outcome', 'same_person'} | {'outcome', 'taken', 'holder', holder}
--    | {'outcome', 'confirming', 'confirmer', other}
--#include claim
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'held' then return {'outcome', 'not_held', 'state', state or 'unknown'} end
local p = redis.call('HMGET', KEYS[3], 'by', 'notice', 'confirmer', 'seen')
if not p[1] then return {'outcome', 'none'} end
if p[1] == ARGV[5] then return {'outcome', 'same_person'} end
local holder = claim_of(KEYS[2])
if holder and holder ~= ARGV[5] then return {'outcome', 'taken', 'holder', holder} end
if p[3] and p[3] ~= ARGV[5] then return {'outcome', 'confirming', 'confirmer', p[3]} end
redis.call('HSET', KEYS[3], 'confirmer', ARGV[5])
set_claim(KEYS[2], ARGV[5], tonumber(ARGV[6]))
return {'outcome', 'ok', 'proposer', p[1], 'notice', p[2], 'seen', p[4] or ''}
