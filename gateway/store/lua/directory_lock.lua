-- Take the directory import's lock: one import at a time, so that two imports cannot both check
-- the store and then both write. It lapses after ARGV[8] ms unless a batch of the import renews
-- it (lua/directory_check.lua, lua/directory_write.lua check the token and renew it).
-- KEYS[1] lock. ARGV[4] token, ARGV[5] import id, ARGV[6] actor, ARGV[7] the import's size (rows),
-- ARGV[8] lease (ms)
-- -> {'outcome', 'ok'} | {'outcome', 'busy', 'import', import id, 'actor', actor, 'started_at',
--     started at}
-- Decides nothing by rule: a lock held is busy, whoever holds it (a mutual exclusion, not a
-- decision of the core).
local held = redis.call('HMGET', KEYS[1], 'import', 'actor', 'started_at')
if held[1] then return {'outcome', 'busy', 'import', held[1], 'actor', held[2] or '',
  'started_at', held[3] or ''} end
redis.call('HSET', KEYS[1], 'token', ARGV[4], 'import', ARGV[5], 'actor', ARGV[6],
  'started_at', NOW, 'rows', ARGV[7])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[8]))
return {'outcome', 'ok'}
