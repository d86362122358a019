-- Four-eyes release: the proposer withdraws a proposal nobody is confirming.
-- KEYS[1] proposal. ARGV[4] query id, ARGV[5] login
-- -> {'ok'} | {'none'} | {'not_yours', by} | {'confirming', other}
local p = redis.call('HMGET', KEYS[1], 'by', 'confirmer')
if not p[1] then return {'none'} end
if p[1] ~= ARGV[5] then return {'not_yours', p[1]} end
if p[2] then return {'confirming', p[2]} end
redis.call('DEL', KEYS[1])
emit('staff.release_withdrawn', 'staff:' .. ARGV[5], {'query', ARGV[4]})
return {'ok'}
