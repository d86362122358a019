-- Staff release, step 1: take the release lock of a HELD query (one taker only), if its subject
-- is still what the approver was shown (ARGV[6], the seen token; '' for the operator's command,
-- which judges on the facts as they are now and prints them). The outcome is the table's, made
-- from gateway/recheck.py release_begin.
-- KEYS[1] query, KEYS[2] lock. ARGV[4] token, ARGV[5] lock ttl (ms), ARGV[6] seen token or ''.
-- -> name/value pairs (gateway/store/replies/ ReleaseBeginReply): outcome (ok | not_held |
--    busy | facts_changed), state, and for ok: sealed (the request), subject (key), seen (token)
--#rules release_begin
local state = redis.call('HGET', KEYS[1], 'state')
local q = redis.call('HMGET', KEYS[1], 'sealed', 'subject_key', 'id')
local seen = seen_token(subject_now(q[2]))
local outcome = decided('release_begin', {may_move('release', state, 'released'),
  ARGV[6] == '' or ARGV[6] == seen, redis.call('EXISTS', KEYS[2]) == 0})
if outcome == 'facts_changed' then
  emit('query.release_stale', 'gateway', {'query', q[3] or '', 'reason', 'facts_changed',
    'step', 'begin'})
end
if outcome ~= 'ok' then return {'outcome', outcome, 'state', state or 'unknown'} end
redis.call('SET', KEYS[2], ARGV[4], 'PX', tonumber(ARGV[5]))
return {'outcome', outcome, 'state', state, 'sealed', q[1], 'subject', q[2], 'seen', seen}
