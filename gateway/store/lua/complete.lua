-- The automatic path's last moment: the upstream has answered; relay only if the subject is still
-- known and still without 自動応答不可, still the same person, and neither it nor its person is
-- under review (quarantine), and write the provision record and the sealed answer in the
-- same atomic step. A flag set while the upstream was answering turns the answer into a hold.
-- KEYS[1] query, KEYS[2] answer, KEYS[3] records of the subject, KEYS[4..] directory keys
-- ARGV[4] id, ARGV[5] sealed answer, ARGV[6] answer ttl (s), ARGV[7] outcome (provided|no_data),
-- ARGV[8..] subject keys (newest first)
-- -> {'provided', nd} | {'held', reason} | {'not_received', state}
local id = ARGV[4]
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'received' then return {'not_received', state or 'unknown'} end
local person = resolve(4, #KEYS)
if not person then
  hold_query(KEYS[1], id, 'subject_unknown', 'gateway')
  return {'held', 'subject_unknown'}
end
local ard, nd = flags_of(person)
if ard then
  hold_query(KEYS[1], id, 'flag_set_in_flight', 'gateway')
  return {'held', 'flag_set_in_flight'}
end
-- A directory import moved the subject to another person while the upstream answered: whose
-- flags apply is not established until staff confirm the move.
local admitted = redis.call('HGET', KEYS[1], 'person_key')
local review = review_of(8, #ARGV, person)
  or (admitted and admitted ~= '' and admitted ~= person and 'subject_remapped')
if review then
  hold_query(KEYS[1], id, review, 'gateway')
  return {'held', review}
end
local q = redis.call('HMGET', KEYS[1], 'org', 'pn', 'affair', 'procedure', 'item', 'requested_at',
  'req_nd', 'subject_nd')
-- non-disclosable if the subject has 不開示該当 now or had it when the query arrived
local record_nd = (nd or q[7] == '1' or q[8] == '1') and 1 or 0
redis.call('RPUSH', KEYS[3], cjson.encode({
  qid = id, pn = q[2], org = q[1], affair = q[3], procedure = q[4], item = q[5],
  requested_at = q[6], provided_at = NOW, nd = record_nd, how = 'automatic', outcome = ARGV[7]}))
-- kept for its retention by the gateway's clock (ans_until_ms, lua/result.lua); the key's expiry,
-- of the same length, clears it away
redis.call('SET', KEYS[2], ARGV[5], 'EX', tonumber(ARGV[6]))
redis.call('HSET', KEYS[1], 'state', 'provided', 'decided_at', NOW, 'outcome', ARGV[7],
  'person_key', person, 'record_nd', record_nd, 'ans_until_ms', NOW_MS + 1000 * tonumber(ARGV[6]))
redis.call('ZREM', P .. 'inflight', id)
emit('query.provided', 'gateway', {'query', id, 'org', q[1], 'pn', q[2], 'item', q[5],
  'subject', person, 'outcome', ARGV[7], 'record_nd', tostring(record_nd)})
return {'provided', record_nd}
