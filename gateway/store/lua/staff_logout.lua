-- End a session. KEYS[1] session -> {'outcome', 'ok'} | {'outcome', 'none'}
-- Decides nothing: ending a session only takes access away.
local login = redis.call('HGET', KEYS[1], 'login')
if not login then return {'outcome', 'none'} end
redis.call('DEL', KEYS[1])
emit('staff.logout', 'staff:' .. login, {})
return {'outcome', 'ok'}
