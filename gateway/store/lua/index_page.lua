-- One page of an index by time (a sorted set: id -> ms), oldest first (the held queries) or newest
-- first (a department's attempts), equal times in id order (reversed when newest first), after a
-- cursor (the time and id of the last one shown), with the index's size and how many come before
-- the page, read in one step: a list that always says how much there is. A cursor stays good when
-- items before it leave the index (released, refused, acknowledged), unlike an offset.
-- KEYS[1] index. ARGV[4] cursor time ('' for the first page), ARGV[5] cursor id, ARGV[6] limit,
-- ARGV[7] 'newest' for newest first (else oldest first)
-- -> {'outcome', 'ok', 'total', total, 'start', start, 'rows', {id1, time1, id2, time2, ...}}:
--    at most limit + 1 ids (one more than asked says that a next page exists)
-- Decides nothing: it reads only (who may see which index is the caller's).
local total = redis.call('ZCARD', KEYS[1])
local limit = tonumber(ARGV[6])
local newest = ARGV[7] == 'newest'
local start, rows = 0, nil
if ARGV[4] == '' then
  rows = redis.call(newest and 'ZREVRANGE' or 'ZRANGE', KEYS[1], 0, limit, 'WITHSCORES')
else
  local at = ARGV[4]
  -- of the items at the cursor's time, those shown already: ids up to it in the page's order
  local skip = 0
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], at, at)) do
    if (newest and id >= ARGV[5]) or (not newest and id <= ARGV[5]) then skip = skip + 1 end
  end
  if newest then
    start = redis.call('ZCOUNT', KEYS[1], '(' .. at, '+inf') + skip
    rows = redis.call('ZREVRANGEBYSCORE', KEYS[1], at, '-inf', 'WITHSCORES', 'LIMIT', skip,
      limit + 1)
  else
    start = redis.call('ZCOUNT', KEYS[1], '-inf', '(' .. at) + skip
    rows = redis.call('ZRANGEBYSCORE', KEYS[1], at, '+inf', 'WITHSCORES', 'LIMIT', skip, limit + 1)
  end
end
return {'outcome', 'ok', 'total', total, 'start', start, 'rows', rows}
