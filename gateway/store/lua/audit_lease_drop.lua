-- Give a role of the audit trail back (a clean stop), only if we still hold it.
-- KEYS[1] lease. ARGV[4] the value we hold.
-- Decides nothing: it gives back only the very value it was handed (a lease is never dropped
-- for another holder).
if redis.call('GET', KEYS[1]) == ARGV[4] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
