-- One page of a department's attempts (or of those not acknowledged yet), newest first (equal
-- times in reverse id order), after a cursor (the time and id of the last one shown), with the
-- index's size and how many come before the page, in one step: a list that says how much there is.
-- KEYS[1] index. ARGV[4] cursor time ('' for the first page), ARGV[5] cursor id, ARGV[6] limit
-- -> {total, start, id1, time1, ...}: at most limit + 1 ids (one more says a next page exists)
local total = redis.call('ZCARD', KEYS[1])
local limit = tonumber(ARGV[6])
local start, rows = 0, nil
if ARGV[4] == '' then
  rows = redis.call('ZREVRANGE', KEYS[1], 0, limit, 'WITHSCORES')
else
  local at = ARGV[4]
  local skip = 0
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], at, at)) do
    if id >= ARGV[5] then skip = skip + 1 end
  end
  start = redis.call('ZCOUNT', KEYS[1], '(' .. at, '+inf') + skip
  rows = redis.call('ZREVRANGEBYSCORE', KEYS[1], at, '-inf', 'WITHSCORES', 'LIMIT', skip,
    limit + 1)
end
local out = {total, start}
for i = 1, #rows do out[#out + 1] = rows[i] end
return out
