-- Four-eyes release: the proposer withdraws a proposal nobody is confirming.
-- KEYS[1] proposal. ARGV[4] query id, ARGV[5] login
-- -> {'outcome', 'ok'} | {'outcome', 'none'} | {'outcome', 'not_yours', 'holder', by}
--    | {'outcome', 'confirming', 'confirmer', other}
local p = redis.call('HMGET', KEYS[1], 'by', 'confirmer')
if not p[1] then return {'outcome', 'none'} end
if p[1] ~= ARGV[5] then return {'outcome', 'not_yours', 'holder', p[1]} end
if p[2] then return {'outcome', 'confirming', 'confirmer', p[2]} end
redis.call('DEL', KEYS[1])
emit('staff.release_withdrawn', 'staff:' .. ARGV[5], {'query', ARGV[4]})
return {'outcome', 'ok'}
