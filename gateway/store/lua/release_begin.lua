-- Staff release, step 1: take the release lock of a HELD query (one taker only).
-- KEYS[1] query, KEYS[2] lock. ARGV[4] token, ARGV[5] lock ttl (ms).
-- -> {'ok', sealed request, subject key} | {'not_held', state} | {'busy'}
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'held' then return {'not_held', state or 'unknown'} end
if not redis.call('SET', KEYS[2], ARGV[4], 'NX', 'PX', tonumber(ARGV[5])) then return {'busy'} end
local q = redis.call('HMGET', KEYS[1], 'sealed', 'subject_key')
return {'ok', q[1], q[2]}
