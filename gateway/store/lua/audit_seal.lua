-- Seal a block: the raw events become numbered, chained lines of the trail, the last one carrying
-- the block's signature (each under the id it had in the raw stream, which stays its id in the
-- event log), they leave the raw stream, and the head moves, all in one atomic step: the trail
-- never holds a block without its signature. Only the lease holder may do it, and only from the
-- head the block was built on: a sealer that lost its lease, or raced another, writes nothing, so
-- the chain never forks. Everything is checked before the first write (Redis does not roll a
-- script back).
-- KEYS[1] sealer lease, KEYS[2] head, KEYS[3] raw events, KEYS[4] trail
-- ARGV[4] lease value, ARGV[5] head seq the block follows, ARGV[6] that head's hash,
-- ARGV[7] signing key version, ARGV[8] the hash of the block's last event (the new head),
-- ARGV[9..] per event: raw entry id, sealed line
-- -> {'outcome', 'sealed', 'seq', seq} | {'outcome', 'lease_lost'} | {'outcome', 'head_moved',
--     'seq', seq}
--    | {'outcome', 'trail_ahead', 'entry', last entry id}
local GENESIS = string.rep('0', 64)
local function id_before(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  return am < bm or (am == bm and as < bs)
end
-- Decides by the table `seal` (gateway/audit_rules.py seal).
--#rules seal
local h = redis.call('HMGET', KEYS[2], 'seq', 'hash')
local seq = tonumber(h[1] or '0')
local last = redis.call('XREVRANGE', KEYS[4], '+', '-', 'COUNT', 1)[1]
local outcome = decided('seal', {redis.call('GET', KEYS[1]) == ARGV[4],
  seq == tonumber(ARGV[5]) and (h[2] or GENESIS) == ARGV[6],
  not last or id_before(last[1], ARGV[9])})
if outcome == 'lease_lost' then return {'outcome', 'lease_lost'} end
if outcome == 'head_moved' then return {'outcome', 'head_moved', 'seq', tostring(seq)} end
if outcome == 'trail_ahead' then return {'outcome', 'trail_ahead', 'entry', last[1]} end
if outcome ~= 'sealed' then error('audit_seal: ' .. outcome) end
local ids = {}
for i = 9, #ARGV, 2 do
  seq = seq + 1
  redis.call('XADD', KEYS[4], ARGV[i], 'e', ARGV[i + 1])
  ids[#ids + 1] = ARGV[i]
end
for i = 1, #ids, 200 do
  redis.call('XDEL', KEYS[3], unpack(ids, i, math.min(i + 199, #ids)))
end
redis.call('HSET', KEYS[2], 'seq', seq, 'hash', ARGV[8], 'key', ARGV[7], 'sealed_at', NOW,
  'sealed_by', ARGV[4])
return {'outcome', 'sealed', 'seq', tostring(seq)}
