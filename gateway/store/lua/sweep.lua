-- Queries RECEIVED before ARGV[4] (ms) were interrupted mid-flight (a crash, a kill -9): hold them
-- for staff. They are never answered automatically after the fact. At most ARGV[5] at a time, so
-- that one step does not keep the store busy; the caller repeats until none are left.
-- -> {'outcome', 'ok', 'held', how many this step held, 'left', how many such entries are still
--     to look at}
--#rules
local batch = tonumber(ARGV[5])
local ids = redis.call('ZRANGEBYSCORE', P .. 'inflight', '-inf', ARGV[4], 'LIMIT', 0, batch)
local n = 0
for _, id in ipairs(ids) do
  local qkey = P .. 'query:' .. id
  if may_move('sweep', redis.call('HGET', qkey, 'state'), 'held') then
    hold_query(qkey, id, 'interrupted', 'gateway')
    n = n + 1
  else
    redis.call('ZREM', P .. 'inflight', id)
  end
end
return {'outcome', 'ok', 'held', n, 'left', redis.call('ZCOUNT', P .. 'inflight', '-inf', ARGV[4])}
