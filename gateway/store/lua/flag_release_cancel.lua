-- Two-person release: withdraw a pending request (the hold stays as it is).
-- KEYS[1] the request, KEYS[2] pending requests. ARGV[4] id, ARGV[5] cancelled_by
-- -> {'outcome', 'cancelled'} | {'outcome', 'unknown'} | {'outcome', 'decided', 'state', state}
local r = redis.call('HMGET', KEYS[1], 'state', 'person', 'department')
if not r[1] then return {'outcome', 'unknown'} end
if r[1] ~= 'pending' then return {'outcome', 'decided', 'state', r[1]} end
redis.call('HSET', KEYS[1], 'state', 'cancelled', 'decided_at', NOW, 'decided_by', ARGV[5])
redis.call('ZREM', KEYS[2], ARGV[4])
-- the department's pending request, and the person's one of the single-record model (before its
-- record became holds)
redis.call('DEL', P .. 'relreqof:' .. r[2] .. ':' .. (r[3] or ''), P .. 'relreqof:' .. r[2])
emit('flag.release_cancelled', ARGV[5], {'subject', r[2], 'request', ARGV[4]})
return {'outcome', 'cancelled'}
