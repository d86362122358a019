-- Staff release, step 2: the upstream answered; HELD -> RELEASED exactly once, with the sealed
-- answer, the sealed handling notice (取扱注意) and the provision record, in one atomic step, and
-- only if the query's subject is still what the release was judged on (the seen token: whom the
-- subject resolves to and that person's flag version). A flag set or a directory change while the
-- upstream answered refuses the release: the approver must look again.
-- KEYS[1] query, KEYS[2] lock, KEYS[3] answer, KEYS[4] records of the subject
-- ARGV[4] id, ARGV[5] token, ARGV[6] sealed answer, ARGV[7] ttl (s), ARGV[8] sealed notice,
-- ARGV[9] actor, ARGV[10] outcome (provided|no_data), ARGV[11] subject non-disclosure now (0|1),
-- ARGV[12] seen token
-- -> name/value pairs (gateway/store/replies/ StepReply): outcome (released | not_held |
--    lock_lost | facts_changed: the table's, made from gateway/recheck.py release_finish), state
--#rules release_finish released_nd
local state = redis.call('HGET', KEYS[1], 'state')
local id = ARGV[4]
local q = redis.call('HMGET', KEYS[1], 'org', 'pn', 'affair', 'procedure', 'item', 'requested_at',
  'req_nd', 'person_key', 'subject_key', 'subject_nd')
local person, version = subject_now(q[9])
local outcome = decided('release_finish', {may_move('release', state, 'released'),
  redis.call('GET', KEYS[2]) == ARGV[5], seen_token(person, version) == ARGV[12]})
if outcome == 'facts_changed' then
  redis.call('DEL', KEYS[2])
  emit('query.release_stale', ARGV[9], {'query', id, 'reason', 'facts_changed', 'step', 'finish'})
end
if outcome ~= 'released' then return {'outcome', outcome, 'state', state or 'unknown'} end
-- 不開示該当 of the person the query was admitted about, and of the one its subject resolves to
-- now (gateway/recheck.py released_record_non_disclosable); ARGV[11] the caller's say (always 0)
local function nd_of(p)
  if not p or p == '' then return false end
  local _, nd = flags_of(p)
  return nd
end
local record_nd = decided('released_nd', {person ~= '', nd_of(q[8]), nd_of(person),
  ARGV[11] == '1' or q[10] == '1', q[7] == '1'})
redis.call('RPUSH', KEYS[4], cjson.encode({
  qid = id, pn = q[2], org = q[1], affair = q[3], procedure = q[4], item = q[5],
  requested_at = q[6], provided_at = NOW, nd = tonumber(record_nd), how = 'released',
  outcome = ARGV[10]}))
redis.call('SET', KEYS[3], ARGV[6], 'EX', tonumber(ARGV[7]))
-- release_person / release_version: what this release was judged on; lua/result.lua withholds
-- the answer again if they change (gateway/recheck.py)
redis.call('HSET', KEYS[1], 'state', 'released', 'decided_at', NOW, 'decided_by', ARGV[9],
  'notice', ARGV[8], 'outcome', ARGV[10], 'record_nd', record_nd,
  'release_person', person, 'release_version', version,
  'ans_until_ms', NOW_MS + 1000 * tonumber(ARGV[7]))  -- its retention (lua/result.lua)
redis.call('ZREM', P .. 'held', id)
redis.call('DEL', KEYS[2])
emit('query.released', ARGV[9], {'query', id, 'org', q[1], 'pn', q[2], 'item', q[5],
  'subject', either(q[8], q[9]), 'subject_now', person, 'outcome', ARGV[10],
  'record_nd', record_nd})
return {'outcome', outcome, 'state', state}
