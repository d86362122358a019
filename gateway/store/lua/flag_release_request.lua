-- Two-person release, step 1: a holding department asks for a release on the person's
-- application (申出). Checked against the flag as it is now, in the same step that records it.
-- KEYS[1] flag record, KEYS[2] departments that set it, KEYS[3] the request,
-- KEYS[4] pending requests, KEYS[5] this person's pending request
-- ARGV[4] id, ARGV[5] person key, ARGV[6] release ard (1|0), ARGV[7] release nd (1|0),
-- ARGV[8] requested_by, ARGV[9] department, ARGV[10] basis, ARGV[11] sealed note,
-- ARGV[12] sealed atena number
-- -> {'ok', version} | {'not_holder'} | {'no_flag'} | {'not_on'} | {'pending', id}
-- A department that has not set a flag of this person is refused first, whatever the flag's
-- state: like a holding department's read (flag_read.lua), it must not learn whether anyone else
-- has flagged the person.
if redis.call('SISMEMBER', KEYS[2], ARGV[9]) == 0 then return {'not_holder'} end
local ard, nd = flags_of(ARGV[5])
local version = redis.call('HGET', KEYS[1], 'version')
if not version or not (ard or nd) then return {'no_flag'} end
if not ((ARGV[6] == '1' and ard) or (ARGV[7] == '1' and nd)) then return {'not_on'} end
local pending = redis.call('GET', KEYS[5])
if pending then return {'pending', pending} end
redis.call('HSET', KEYS[3], 'id', ARGV[4], 'person', ARGV[5], 'ard', ARGV[6], 'nd', ARGV[7],
  'requested_by', ARGV[8], 'department', ARGV[9], 'basis', ARGV[10], 'note', ARGV[11],
  'atena', ARGV[12], 'requested_at', NOW, 'version', version, 'state', 'pending')
redis.call('ZADD', KEYS[4], NOW_MS, ARGV[4])
redis.call('SET', KEYS[5], ARGV[4])
emit('flag.release_requested', ARGV[8], {'subject', ARGV[5], 'request', ARGV[4],
  'department', ARGV[9], 'basis', ARGV[10], 'ard', ARGV[6], 'nd', ARGV[7], 'version', version})
return {'ok', version}
