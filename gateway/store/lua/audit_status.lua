-- Where the trail stands, read in one step: the head, the raw events waiting (how many, and the
-- oldest one's id), the sealed events still in the store.
-- KEYS[1] head, KEYS[2] raw events, KEYS[3] trail
-- -> {head field/value list, unsealed, oldest raw id or '', stored}
local oldest = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)[1]
return {redis.call('HGETALL', KEYS[1]), redis.call('XLEN', KEYS[2]), oldest and oldest[1] or '',
  redis.call('XLEN', KEYS[3])}
