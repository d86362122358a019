-- Two-person release: withdraw a pending request (the hold stays as it is). Only a member of the
-- request's own department withdraws it (issue 11: one department's act cannot undo another's),
-- decided here, in the step that writes, by the table made from gateway/flag_rules.py
-- release_cancel; another department is told nothing of the request, not even its state.
-- KEYS[1] the request, KEYS[2] pending requests. ARGV[4] id, ARGV[5] cancelled_by,
-- ARGV[6] the canceller's department (annex 1's spelling, as the request records it)
-- -> {'outcome', 'cancelled'} | {'outcome', 'unknown'} | {'outcome', 'other_department'}
--    | {'outcome', 'decided', 'state', state}
--#rules release_cancel
local r = redis.call('HMGET', KEYS[1], 'state', 'person', 'department')
local outcome = decided('release_cancel',
  {r[1] ~= false, r[1] == 'pending', r[1] ~= false and r[3] == ARGV[6]})
if outcome == 'decided' then return {'outcome', outcome, 'state', r[1]} end
if outcome ~= 'cancelled' then return {'outcome', outcome} end
redis.call('HSET', KEYS[1], 'state', 'cancelled', 'decided_at', NOW, 'decided_by', ARGV[5])
redis.call('ZREM', KEYS[2], ARGV[4])
-- the department's pending request, and the person's one of the single-record model (before its
-- record became holds)
redis.call('DEL', P .. 'relreqof:' .. r[2] .. ':' .. (r[3] or ''), P .. 'relreqof:' .. r[2])
emit('flag.release_cancelled', ARGV[5], {'subject', r[2], 'request', ARGV[4]})
return {'outcome', 'cancelled'}
