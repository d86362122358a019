-- The archiver has written sealed events up to seq ARGV[5] (entry id ARGV[7]) to its files and
-- fsynced them: drop them from the trail and move the archive mark. Idempotent: trimming again, or
-- to an older mark, changes nothing; it never goes past the sealed head.
-- KEYS[1] archiver lease, KEYS[2] head, KEYS[3] trail
-- ARGV[4] lease value, ARGV[5] last archived seq, ARGV[6] its hash, ARGV[7] its entry id,
-- ARGV[8] archive file name
-- -> {'outcome', 'trimmed', 'removed', entries removed} | {'outcome', 'lease_lost'}
--    | {'outcome', 'beyond_head', 'seq', head seq}
if redis.call('GET', KEYS[1]) ~= ARGV[4] then return {'outcome', 'lease_lost'} end
local upto = tonumber(ARGV[5])
local sealed = tonumber(redis.call('HGET', KEYS[2], 'seq') or '0')
if upto > sealed then return {'outcome', 'beyond_head', 'seq', tostring(sealed)} end
local marked = tonumber(redis.call('HGET', KEYS[2], 'archived_seq') or '0')
if upto > marked then
  redis.call('HSET', KEYS[2], 'archived_seq', upto, 'archived_hash', ARGV[6],
    'archived_id', ARGV[7], 'archived_file', ARGV[8], 'archived_at', NOW, 'archived_by', ARGV[4])
end
local ms, sq = string.match(ARGV[7], '^(%d+)-(%d+)$')
return {'outcome', 'trimmed', 'removed', redis.call('XTRIM', KEYS[3], 'MINID',
  ms .. '-' .. (tonumber(sq) + 1))}
