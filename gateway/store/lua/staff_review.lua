-- An auditor marks an event as reviewed, with a comment (sealed). Reviews are kept as a list per
-- event (nothing is overwritten) and are themselves events. Decides nothing: who may review is
-- the caller's check (an auditor's role, gateway/services/auditing.py); this step only records.
-- KEYS[1] reviews of the event, KEYS[2] index of reviewed events. ARGV[4] event id,
-- ARGV[5] actor, ARGV[6] review (JSON, comment sealed), ARGV[7] kind of the reviewed event
-- -> {'outcome', 'ok', 'reviews', number of reviews}
local entry = cjson.decode(ARGV[6])
entry.at = NOW
local n = redis.call('RPUSH', KEYS[1], cjson.encode(entry))
redis.call('ZADD', KEYS[2], NOW_MS, ARGV[4])
emit('audit.reviewed', ARGV[5], {'event', ARGV[4], 'event_kind', ARGV[7]})
return {'outcome', 'ok', 'reviews', n}
