-- The automatic path's last moment: the upstream has answered. Gather the facts again (does the
-- subject still resolve, its person's 自動応答不可, is it still the person it was admitted about,
-- an open review (quarantine) of it or its person), look the decision up in the table made from
-- gateway/decision.py relay(), and act on it in this same atomic step: relay (the provision
-- record and the sealed answer written) or hold. A flag set while the upstream was answering
-- turns the answer into a hold.
-- KEYS[1] query, KEYS[2] answer, KEYS[3] records of the subject, KEYS[4..] directory keys
-- ARGV[4] id, ARGV[5] sealed answer, ARGV[6] answer ttl (s), ARGV[7] outcome (provided|no_data),
-- ARGV[8..] subject keys (newest first)
-- -> name/value pairs (gateway/store/replies/ RelayReply): action (forward | hold | none),
--    reason, state (the query's state before; 'unknown' for no query), record_nd
--#rules relay record_nd
local id = ARGV[4]
local state = redis.call('HGET', KEYS[1], 'state')
-- this step moves only a RECEIVED query (gateway/lifecycle.py STEPS['relay'])
if not may_move('relay', state, 'provided') then
  return {'action', 'none', 'reason', '', 'state', state or 'unknown', 'record_nd', ''}
end
local person = resolve(4, #KEYS)
local ard, nd = false, false
if person then ard, nd = flags_of(person) end
-- moved: a directory import moved the subject to another person while the upstream answered
local admitted = redis.call('HGET', KEYS[1], 'person_key')
local moved = person and admitted and admitted ~= '' and admitted ~= person
local review = review_of(8, #ARGV, person)
local action, reason = split_outcome(decided('relay', {person, ard, moved, review}))
if action ~= 'forward' then
  hold_query(KEYS[1], id, reason, 'gateway')
  return {'action', action, 'reason', reason, 'state', state, 'record_nd', ''}
end
local q = redis.call('HMGET', KEYS[1], 'org', 'pn', 'affair', 'procedure', 'item', 'requested_at',
  'req_nd', 'subject_nd')
local record_nd = decided('record_nd', {nd, q[8] == '1', q[7] == '1'})
redis.call('RPUSH', KEYS[3], cjson.encode({
  qid = id, pn = q[2], org = q[1], affair = q[3], procedure = q[4], item = q[5],
  requested_at = q[6], provided_at = NOW, nd = tonumber(record_nd), how = 'automatic',
  outcome = ARGV[7]}))
-- kept for its retention by the gateway's clock (ans_until_ms, lua/result.lua); the key's expiry,
-- of the same length, clears it away
redis.call('SET', KEYS[2], ARGV[5], 'EX', tonumber(ARGV[6]))
redis.call('HSET', KEYS[1], 'state', 'provided', 'decided_at', NOW, 'outcome', ARGV[7],
  'person_key', person, 'record_nd', record_nd, 'ans_until_ms', NOW_MS + 1000 * tonumber(ARGV[6]))
redis.call('ZREM', P .. 'inflight', id)
emit('query.provided', 'gateway', {'query', id, 'org', q[1], 'pn', q[2], 'item', q[5],
  'subject', person, 'outcome', ARGV[7], 'record_nd', record_nd})
return {'action', action, 'reason', reason, 'state', state, 'record_nd', record_nd}
