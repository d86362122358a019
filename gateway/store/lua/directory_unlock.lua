-- Give the directory import's lock back, if it is still ours. KEYS[1] lock. ARGV[4] token.
-- -> {'outcome', 'ok'}
if redis.call('HGET', KEYS[1], 'token') == ARGV[4] then redis.call('DEL', KEYS[1]) end
return {'outcome', 'ok'}
