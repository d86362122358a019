-- Staff release, step 2: the upstream answered; HELD -> RELEASED exactly once, with the sealed
-- answer, the sealed handling notice (取扱注意) and the provision record, in one atomic step.
-- KEYS[1] query, KEYS[2] lock, KEYS[3] answer, KEYS[4] records of the subject
-- ARGV[4] id, ARGV[5] token, ARGV[6] sealed answer, ARGV[7] ttl (s), ARGV[8] sealed notice,
-- ARGV[9] actor, ARGV[10] outcome (provided|no_data), ARGV[11] subject non-disclosure now (0|1)
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'held' then return {'not_held', state or 'unknown'} end
if redis.call('GET', KEYS[2]) ~= ARGV[5] then return {'lock_lost'} end
local id = ARGV[4]
local q = redis.call('HMGET', KEYS[1], 'org', 'pn', 'affair', 'procedure', 'item', 'requested_at',
  'req_nd', 'person_key', 'subject_key', 'subject_nd')
local nd = ARGV[11] == '1' or q[10] == '1'
-- The person as known now: a query held because its subject was unknown may have become known
-- (and flagged) since. If the person still cannot be established, the record is non-disclosable:
-- a record hidden by mistake harms no one, one shown by mistake may.
local person = q[8]
if not person or person == '' then
  person = q[9] and redis.call('GET', P .. 'dir:' .. q[9])
end
if person and person ~= '' then
  local _, nd_now = flags_of(person)
  nd = nd or nd_now
else
  nd = true
end
local record_nd = (nd or q[7] == '1') and 1 or 0
redis.call('RPUSH', KEYS[4], cjson.encode({
  qid = id, pn = q[2], org = q[1], affair = q[3], procedure = q[4], item = q[5],
  requested_at = q[6], provided_at = NOW, nd = record_nd, how = 'released', outcome = ARGV[10]}))
redis.call('SET', KEYS[3], ARGV[6], 'EX', tonumber(ARGV[7]))
redis.call('HSET', KEYS[1], 'state', 'released', 'decided_at', NOW, 'decided_by', ARGV[9],
  'notice', ARGV[8], 'outcome', ARGV[10], 'record_nd', record_nd)
redis.call('ZREM', P .. 'held', id)
redis.call('DEL', KEYS[2])
emit('query.released', ARGV[9], {'query', id, 'org', q[1], 'pn', q[2], 'item', q[5],
  'subject', either(q[8], q[9]), 'outcome', ARGV[10],
  'record_nd', tostring(record_nd)})
return {'released'}
