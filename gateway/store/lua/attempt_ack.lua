-- A registrar of the attempt's department acknowledges it ("the person was told" / "known,
-- expected"), with an optional sealed note: recorded with its actor, and it leaves the department's
-- open attempts (the console's header count). Another department's attempt is as unknown.
-- KEYS[1] the attempt. ARGV[4] id, ARGV[5] department, ARGV[6] outcome (told|expected),
-- ARGV[7] sealed note ('' for none), ARGV[8] actor
-- -> {'outcome', 'acknowledged'} | {'outcome', 'unknown'} | {'outcome', 'already', 'by', by,
--     'at', at}
-- Decides by the table `attempt_ack` (gateway/step_rules.py attempt_acknowledgement).
--#rules attempt_ack
local a = redis.call('HMGET', KEYS[1], 'department', 'state', 'person', 'kind', 'ack_by', 'ack_at')
local outcome = decided('attempt_ack', {a[1] and true or false, a[1] == ARGV[5], a[2] == 'open'})
if outcome == 'unknown' then return {'outcome', 'unknown'} end
if outcome == 'already' then return {'outcome', 'already', 'by', a[5] or '', 'at', a[6] or ''} end
if outcome ~= 'acknowledged' then error('attempt_ack: ' .. outcome) end
redis.call('HSET', KEYS[1], 'state', 'acknowledged', 'ack_outcome', ARGV[6], 'ack_by', ARGV[8],
  'ack_at', NOW, 'ack_note', ARGV[7])
redis.call('ZREM', P .. 'attempts:open:' .. a[1], ARGV[4])
emit('attempt.acknowledged', ARGV[8], {'attempt', ARGV[4], 'department', a[1],
  'subject', a[3] or '', 'attempt_kind', a[4] or '', 'outcome', ARGV[6],
  'with_note', ARGV[7] ~= '' and '1' or '0'})
return {'outcome', 'acknowledged'}
