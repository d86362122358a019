-- Staff release, step 2: the upstream answered; HELD -> RELEASED exactly once, with the sealed
-- answer, the sealed handling notice (取扱注意) and the provision record, in one atomic step, and
-- only if the query's subject is still what the release was judged on (the seen token: whom the
-- subject resolves to and that person's flag version). A flag set or a directory change while the
-- upstream answered refuses the release: the approver must look again.
-- KEYS[1] query, KEYS[2] lock, KEYS[3] answer, KEYS[4] records of the subject
-- ARGV[4] id, ARGV[5] token, ARGV[6] sealed answer, ARGV[7] ttl (s), ARGV[8] sealed notice,
-- ARGV[9] actor, ARGV[10] outcome (provided|no_data), ARGV[11] subject non-disclosure now (0|1),
-- ARGV[12] seen token
-- -> {'released'} | {'not_held', state} | {'lock_lost'} | {'facts_changed'}
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'held' then return {'not_held', state or 'unknown'} end
if redis.call('GET', KEYS[2]) ~= ARGV[5] then return {'lock_lost'} end
local id = ARGV[4]
local q = redis.call('HMGET', KEYS[1], 'org', 'pn', 'affair', 'procedure', 'item', 'requested_at',
  'req_nd', 'person_key', 'subject_key', 'subject_nd')
local person, version = subject_now(q[9])
if seen_token(person, version) ~= ARGV[12] then
  redis.call('DEL', KEYS[2])
  emit('query.release_stale', ARGV[9], {'query', id, 'reason', 'facts_changed', 'step', 'finish'})
  return {'facts_changed'}
end
-- Non-disclosable if the person had 不開示該当 when the query arrived, or has it now: the person
-- the query was admitted about, or the one its subject resolves to now (it may have become
-- known, or another person, since the hold). If no one can be established now, non-disclosable:
-- a record hidden by mistake harms no one, one shown by mistake may.
local nd = ARGV[11] == '1' or q[10] == '1'
if person == '' then
  nd = true
else
  for _, p in ipairs({q[8] or '', person}) do
    if p ~= '' then
      local _, nd_p = flags_of(p)
      nd = nd or nd_p
    end
  end
end
local record_nd = (nd or q[7] == '1') and 1 or 0
redis.call('RPUSH', KEYS[4], cjson.encode({
  qid = id, pn = q[2], org = q[1], affair = q[3], procedure = q[4], item = q[5],
  requested_at = q[6], provided_at = NOW, nd = record_nd, how = 'released', outcome = ARGV[10]}))
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
  'record_nd', tostring(record_nd)})
return {'released'}
