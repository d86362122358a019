-- Set or release flags of one person, appending to the history (nothing is overwritten in it),
-- recording the event and telling every gateway process (cache invalidation) before the change is
-- acknowledged. All in one atomic step.
-- KEYS[1] flag record, KEYS[2] history, KEYS[3] index of flagged persons, KEYS[4] epoch
-- ARGV[4] person key, ARGV[5] action (set|release), ARGV[6] ard (1|0|-: keep),
-- ARGV[7] nd (1|0|-), ARGV[8] actor, ARGV[9] history entry (JSON, without the outcome),
-- ARGV[10..] field/value pairs to store on the record (department, basis, sealed name, ...)
-- -> {'ok', ard, nd, version}
local ard_old, nd_old = flags_of(ARGV[4])
local ard, nd = ard_old, nd_old
if ARGV[6] ~= '-' then ard = ARGV[6] == '1' end
if ARGV[7] ~= '-' then nd = ARGV[7] == '1' end
local version = redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HSET', KEYS[1], 'ard', ard and '1' or '0', 'nd', nd and '1' or '0',
  'updated_at', NOW, 'updated_by', ARGV[8])
for i = 10, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
local entry = cjson.decode(ARGV[9])
entry.at = NOW
entry.actor = ARGV[8]
entry.action = ARGV[5]
entry.version = version
entry.ard = ard and 1 or 0
entry.nd = nd and 1 or 0
redis.call('RPUSH', KEYS[2], cjson.encode(entry))
redis.call('ZADD', KEYS[3], NOW_MS, ARGV[4])
redis.call('INCR', KEYS[4])
redis.call('PUBLISH', P .. 'flagchanged', ARGV[4])
emit('flag.' .. ARGV[5], ARGV[8], {'subject', ARGV[4], 'ard', ard and '1' or '0',
  'nd', nd and '1' or '0', 'basis', entry.basis or '', 'department', entry.department or '',
  'version', tostring(version)})
return {'ok', ard and 1 or 0, nd and 1 or 0, version}
