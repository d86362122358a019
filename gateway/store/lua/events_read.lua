-- The event log between two ids, in one step (so that no event is missed or seen twice while the
-- sealer moves events from the raw stream to the trail): sealed events first, then those not
-- sealed yet (all of which come after every sealed one), and the first id each stream holds.
-- KEYS[1] trail, KEYS[2] raw events. ARGV[4] start, ARGV[5] end, ARGV[6] count
-- -> {'outcome', 'ok', 'sealed', trail entries, 'raw', raw entries, 'first_sealed', first trail id
--     or '', 'first_raw', first raw id or ''}
-- Decides nothing: it reads only.
local sealed = redis.call('XRANGE', KEYS[1], ARGV[4], ARGV[5], 'COUNT', tonumber(ARGV[6]))
local raw = redis.call('XRANGE', KEYS[2], ARGV[4], ARGV[5], 'COUNT', tonumber(ARGV[6]))
local first_sealed = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
local first_raw = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)[1]
return {'outcome', 'ok', 'sealed', sealed, 'raw', raw,
  'first_sealed', first_sealed and first_sealed[1] or '',
  'first_raw', first_raw and first_raw[1] or ''}
