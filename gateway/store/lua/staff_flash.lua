-- A message for the session's next page, only while the session lives (never re-creates it).
-- KEYS[1] session. ARGV[4] flash (JSON) -> 1 | 0
-- Decides nothing: a message is kept only on a session that still exists (whether a session
-- is valid is staff_session.lua's table).
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'flash', ARGV[4])
return 1
