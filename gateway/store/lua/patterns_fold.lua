-- The auditors' pictures: add the counts of a run of events to the per-day counts, if nobody has
-- added them meanwhile (the fold starts where the last one ended, or not at all), in one step.
-- Derived from the event log, so nothing is emitted. Fields: 'cursor' (the last event id folded
-- in), 'definition' (of an attempt the counts follow: gateway/attempts.py), 'pruned' (days before
-- it are gone), and one counter a day: 'd|YYYY-MM-DD|...'.
-- KEYS[1] counts. ARGV[4] expected cursor ('' for none), ARGV[5] new cursor, ARGV[6] definition,
-- ARGV[7] drop days before this one (YYYY-MM-DD), ARGV[8..] field, increment pairs
-- -> {'outcome', 'ok'} | {'outcome', 'moved', 'cursor', cursor now}
-- Decides nothing by rule: what is counted is gateway/attempts.py's (the caller's); this step only
-- adds, once (the cursor: another process folded the run meanwhile), and prunes old days.
local now = redis.call('HGET', KEYS[1], 'cursor') or ''
if now ~= ARGV[4] then return {'outcome', 'moved', 'cursor', now} end
for i = 8, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('HSET', KEYS[1], 'cursor', ARGV[5], 'definition', ARGV[6])
local pruned = redis.call('HGET', KEYS[1], 'pruned') or ''
if ARGV[7] > pruned then
  for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
    if string.sub(f, 1, 2) == 'd|' and string.sub(f, 3, 12) < ARGV[7] then
      redis.call('HDEL', KEYS[1], f)
    end
  end
  redis.call('HSET', KEYS[1], 'pruned', ARGV[7])
end
return {'outcome', 'ok'}
