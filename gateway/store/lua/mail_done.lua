-- A mail the SMTP server took (sent), or one that can go nowhere (dropped: its department has no
-- mailbox any more): out of the outbox, recorded. Or one the server did not take (retry): due
-- again at ARGV[6], its tries counted and the reason kept (no personal data: an SMTP reply).
-- KEYS[1] outbox, KEYS[2] the mail. ARGV[4] id, ARGV[5] outcome (sent|dropped|retry),
-- ARGV[6] next try (ms, retry), ARGV[7] reason
-- -> {'outcome', 'done'} | {'outcome', 'unknown'}
-- Decides nothing: it records what the sender was told by the SMTP server (gateway/mail.py).
local m = redis.call('HMGET', KEYS[2], 'department', 'count', 'tries')
if not m[1] then return {'outcome', 'unknown'} end
if ARGV[5] == 'retry' then
  redis.call('HSET', KEYS[2], 'state', 'retry', 'tries', (tonumber(m[3]) or 0) + 1,
    'last_error', ARGV[7], 'last_try', NOW)
  redis.call('ZADD', KEYS[1], ARGV[6], ARGV[4])
  return {'outcome', 'done'}
end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[1], ARGV[4])
emit('mail.' .. ARGV[5], 'gateway', {'mail', ARGV[4], 'department', m[1], 'attempts', m[2],
  'tries', tostring((tonumber(m[3]) or 0) + 1), 'reason', ARGV[7]})
return {'outcome', 'done'}
