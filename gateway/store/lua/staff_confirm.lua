-- Four-eyes release, step 2: a second approver takes the proposal to confirm it. Nobody confirms
-- their own proposal. The confirmer holds the claim and is marked on the proposal, so that the
-- proposer cannot withdraw it while the release is under way.
-- KEYS[1] query, KEYS[2] claim, KEYS[3] proposal. ARGV[4] query id, ARGV[5] login,
-- ARGV[6] claim time (ms)
-- -> {'ok', proposer, sealed notice, the proposer's seen token} | {'not_held', state} | {'none'} | {'same_person'}
--    | {'taken', holder} | {'confirming', other}
--#include claim
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'held' then return {'not_held', state or 'unknown'} end
local p = redis.call('HMGET', KEYS[3], 'by', 'notice', 'confirmer', 'seen')
if not p[1] then return {'none'} end
if p[1] == ARGV[5] then return {'same_person'} end
local holder = claim_of(KEYS[2])
if holder and holder ~= ARGV[5] then return {'taken', holder} end
if p[3] and p[3] ~= ARGV[5] then return {'confirming', p[3]} end
redis.call('HSET', KEYS[3], 'confirmer', ARGV[5])
set_claim(KEYS[2], ARGV[5], tonumber(ARGV[6]))
return {'ok', p[1], p[2], p[4] or ''}
