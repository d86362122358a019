-- Register a requester (情報照会者), or rename one already registered; its rights stay as they are.
-- KEYS[1] requester, KEYS[2] index. ARGV[4] org, ARGV[5] name, ARGV[6] actor.
-- -> {'outcome', 'ok'}
-- Decides nothing: the caller checked the operator's command; what a requester may ask is
-- decided by requester_rights.lua and admit.lua by their tables.
redis.call('HSET', KEYS[1], 'name', ARGV[5], 'added_at', NOW, 'added_by', ARGV[6])
redis.call('ZADD', KEYS[2], NOW_MS, ARGV[4])
emit('requester.added', ARGV[6], {'org', ARGV[4]})
return {'outcome', 'ok'}
