-- Staff release failed upstream: give the lock back, change nothing else.
-- KEYS[1] lock. ARGV[4] token.
-- Decides nothing: a lock that is not ours any more is left alone (the fence of
-- release_begin.lua / release_finish.lua, which decide by their tables); no query moves here.
if redis.call('GET', KEYS[1]) == ARGV[4] then redis.call('DEL', KEYS[1]) return 1 end
return 0
