-- Staff release failed upstream: give the lock back, change nothing else.
-- KEYS[1] lock. ARGV[4] token.
if redis.call('GET', KEYS[1]) == ARGV[4] then redis.call('DEL', KEYS[1]) return 1 end
return 0
