-- One read counted against a department token's limit, in fixed windows. The call that first
-- goes over the limit in a window is a security event; later ones in the same window are only
-- refused (an audit trail that a flood could fill would be a second way to attack it).
-- KEYS[1] the window's counter. ARGV[4] window (ms), ARGV[5] reads allowed per window,
-- ARGV[6] actor, ARGV[7..] the event's fields
-- -> {'outcome', 'ok', 'reads', reads in this window, 'recorded', recorded as an event now (0|1)}
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4])) end
local limit = tonumber(ARGV[5])
local recorded = 0
if n == limit + 1 then
  local fields = {'limit', ARGV[5], 'window_s', tostring(math.floor(tonumber(ARGV[4]) / 1000))}
  for i = 7, #ARGV do fields[#fields + 1] = ARGV[i] end
  emit('security.api_rate_limited', ARGV[6], fields)
  recorded = 1
end
return {'outcome', 'ok', 'reads', n, 'recorded', recorded}
