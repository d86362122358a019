-- Give the directory import's lock back, if it is still ours. KEYS[1] lock. ARGV[4] token.
-- -> {'outcome', 'ok'}
-- Decides nothing: a lock that is not ours any more is left alone.
if redis.call('HGET', KEYS[1], 'token') == ARGV[4] then redis.call('DEL', KEYS[1]) end
return {'outcome', 'ok'}
