-- Two-person release, step 1: a holding department asks for the release of its own hold on the
-- person's application (申出). Checked against that hold as it is now, in the same step that
-- records it. Only the department's own hold is read: a department that holds nothing on the
-- person is refused first, whether or not another department holds a flag, and one department's
-- pending request does not stand in another's way.
-- KEYS[1] the person's holds, KEYS[2] the request, KEYS[3] pending requests,
-- KEYS[4] this department's pending request for the person
-- ARGV[4] id, ARGV[5] person key, ARGV[6] release ard (1|0), ARGV[7] release nd (1|0),
-- ARGV[8] requested_by, ARGV[9] department, ARGV[10] basis, ARGV[11] sealed note,
-- ARGV[12] sealed atena number
-- -> name/value pairs (gateway/store/replies/ OutcomeReply): outcome (ok | not_holder | no_flag
--    | not_on | pending: the table's, made from gateway/flag_rules.py release_request), version
--    (ok), pending (the waiting request's id)
--#include flag_holds
--#rules release_request
upgrade_person(ARGV[5], 'system:upgrade')
local hold = hold_of(ARGV[5], ARGV[9])
local ard, nd = hold ~= nil and hold.ard == '1', hold ~= nil and hold.nd == '1'
local pending = redis.call('GET', KEYS[4])
local outcome = decided('release_request', {hold, ard or nd,
  (ARGV[6] == '1' and ard) or (ARGV[7] == '1' and nd), pending})
if outcome == 'pending' then return {'outcome', outcome, 'pending', pending} end
if outcome ~= 'ok' then return {'outcome', outcome} end
local version = tostring(hold.version)
redis.call('HSET', KEYS[2], 'id', ARGV[4], 'person', ARGV[5], 'ard', ARGV[6], 'nd', ARGV[7],
  'requested_by', ARGV[8], 'department', ARGV[9], 'basis', ARGV[10], 'note', ARGV[11],
  'atena', ARGV[12], 'requested_at', NOW, 'version', version, 'state', 'pending')
redis.call('ZADD', KEYS[3], NOW_MS, ARGV[4])
redis.call('SET', KEYS[4], ARGV[4])
emit('flag.release_requested', ARGV[8], {'subject', ARGV[5], 'request', ARGV[4],
  'department', ARGV[9], 'basis', ARGV[10], 'ard', ARGV[6], 'nd', ARGV[7], 'version', version})
return {'outcome', outcome, 'version', version}
