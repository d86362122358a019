-- Where the trail stands, read in one step: the head, the raw events waiting (how many, and the
-- oldest one's id), the sealed events still in the store.
-- KEYS[1] head, KEYS[2] raw events, KEYS[3] trail
-- -> {'outcome', 'ok', 'head', head field/value list, 'unsealed', raw events waiting,
--     'oldest', oldest raw id or '', 'stored', sealed events in the store}
-- Decides nothing: it reads only.
local oldest = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)[1]
return {'outcome', 'ok', 'head', redis.call('HGETALL', KEYS[1]), 'unsealed', redis.call('XLEN',
  KEYS[2]),
  'oldest', oldest and oldest[1] or '', 'stored', redis.call('XLEN', KEYS[3])}
