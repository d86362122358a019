-- The archiver has written sealed events up to seq ARGV[5] (entry id ARGV[7]) to its files and
-- fsynced them: drop them from the trail and move the archive mark. Idempotent: trimming again, or
-- to an older mark, changes nothing; it never goes past the sealed head.
-- KEYS[1] archiver lease, KEYS[2] head, KEYS[3] trail
-- ARGV[4] lease value, ARGV[5] last archived seq, ARGV[6] its hash, ARGV[7] its entry id,
-- ARGV[8] archive file name
-- -> {'outcome', 'trimmed', 'removed', entries removed} | {'outcome', 'lease_lost'}
--    | {'outcome', 'beyond_head', 'seq', head seq}
-- Decides by the table `trim` (gateway/audit_rules.py trim).
--#rules trim
local upto = tonumber(ARGV[5])
local h = redis.call('HMGET', KEYS[2], 'seq', 'archived_seq')
local sealed, marked = tonumber(h[1] or '0'), tonumber(h[2] or '0')
local outcome = decided('trim', {redis.call('GET', KEYS[1]) == ARGV[4], upto > sealed,
  upto > marked})
if outcome == 'lease_lost' then return {'outcome', 'lease_lost'} end
if outcome == 'beyond_head' then return {'outcome', 'beyond_head', 'seq', tostring(sealed)} end
if outcome ~= 'trimmed:mark' and outcome ~= 'trimmed:keep' then
  error('audit_trim: ' .. outcome)
end
if outcome == 'trimmed:mark' then
  redis.call('HSET', KEYS[2], 'archived_seq', upto, 'archived_hash', ARGV[6],
    'archived_id', ARGV[7], 'archived_file', ARGV[8], 'archived_at', NOW, 'archived_by', ARGV[4])
end
local ms, sq = string.match(ARGV[7], '^(%d+)-(%d+)$')
return {'outcome', 'trimmed', 'removed', redis.call('XTRIM', KEYS[3], 'MINID',
  ms .. '-' .. (tonumber(sq) + 1))}
