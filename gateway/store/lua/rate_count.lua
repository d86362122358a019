-- One read counted against a department token's limit, in fixed windows. Whether it is refused,
-- and whether it is the call that first goes over the limit in its window (a security event;
-- later ones in the same window are only refused), is decided by the table made from
-- gateway/rate_rules.py read_counted, from the count this step makes.
-- KEYS[1] the window's counter. ARGV[4] window (ms), ARGV[5] reads allowed per window,
-- ARGV[6] actor, ARGV[7..] the event's fields
-- -> {'outcome', 'ok', 'reads', reads in this window} | {'outcome', 'refused', 'reads', reads}
--    | {'outcome', 'refused_recorded', 'reads', reads}
--#rules rate_read
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4])) end
local limit = tonumber(ARGV[5])
local outcome = decided('rate_read', {n > limit, n == limit + 1})
if outcome == 'refused_recorded' then
  local fields = {'limit', ARGV[5], 'window_s', tostring(math.floor(tonumber(ARGV[4]) / 1000))}
  for i = 7, #ARGV do fields[#fields + 1] = ARGV[i] end
  emit('security.api_rate_limited', ARGV[6], fields)
end
return {'outcome', outcome, 'reads', n}
