-- Take the mails due for sending (gateway/mail.py): each is leased to this sender until ARGV[5]
-- (ms), so that another sender leaves it alone meanwhile, and a mail still gathering attempts
-- stops gathering (the next attempt starts a new one). A sender that dies leaves the lease to
-- run out: the mail is taken again, never lost (it may then be sent twice).
-- KEYS[1] outbox. ARGV[4] now (ms), ARGV[5] lease until (ms), ARGV[6] at most
-- -> {'outcome', 'ok', 'mails', {{'id', id, 'department', d, 'count', n, 'first', at, 'last', at,
--     'tries', n}, ...}}
-- Decides nothing by rule: which mails are due is their time in the outbox, and a lease lapses
-- by time alone (a mail is sent again rather than lost; what a mail says was decided when the
-- attempts were folded).
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[4], 'LIMIT', 0, ARGV[6])) do
  local key = P .. 'mail:' .. id
  local m = redis.call('HMGET', key, 'department', 'count', 'first', 'last', 'tries', 'state')
  if not m[1] then
    redis.call('ZREM', KEYS[1], id)
  else
    if m[6] == 'waiting' and redis.call('GET', P .. 'mail:pending:' .. m[1]) == id then
      redis.call('DEL', P .. 'mail:pending:' .. m[1])
    end
    redis.call('HSET', key, 'state', 'sending')
    redis.call('ZADD', KEYS[1], ARGV[5], id)
    out[#out + 1] = {'id', id, 'department', m[1], 'count', m[2], 'first', m[3], 'last', m[4],
      'tries', m[5]}
  end
end
return {'outcome', 'ok', 'mails', out}
