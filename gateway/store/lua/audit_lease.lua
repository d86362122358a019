-- Take or keep a role of the audit trail ('sealer' or 'archiver'): one holder at a time. The
-- holder keeps it by renewing before the TTL runs out; each new holder gets the next epoch, and
-- the lease's value (epoch:holder) is the fencing token the sealing and trimming steps check.
-- KEYS[1] lease, KEYS[2] epoch. ARGV[4] holder id, ARGV[5] the value we hold ('' if none),
-- ARGV[6] ttl (ms)
-- -> {'outcome', 'held', 'value', value} (renewed or newly taken)
--    | {'outcome', 'taken', 'value', the other holder's value}
-- Decides by the table `lease` (gateway/audit_rules.py lease).
--#rules lease
local cur = redis.call('GET', KEYS[1])
local outcome = decided('lease', {cur and true or false, cur == ARGV[5]})
if outcome == 'renew' then
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[6]))
  return {'outcome', 'held', 'value', cur}
end
if outcome == 'taken' then return {'outcome', 'taken', 'value', cur} end
if outcome ~= 'take' then error('audit_lease: ' .. outcome) end
local value = redis.call('INCR', KEYS[2]) .. ':' .. ARGV[4]
redis.call('SET', KEYS[1], value, 'PX', tonumber(ARGV[6]))
return {'outcome', 'held', 'value', value}
