-- One 自己情報表示 (GetSelfInformation), after the upstream answered: resolve the subject, read
-- its flags at this last moment and record the view, in one atomic step whose store work is the
-- same whoever the person is (flagged, not flagged, unknown): every directory key read, one flag
-- read (of no record when unknown), one change-time read, two review reads, one read of the
-- holding departments' holds, one event and its entry in the inbox of attempts (every view has
-- one: a blocked view's tells the departments named in `holders`, the others tell no one). What the
-- view shows is decided here; the answer for a blocked view is the one for "no data"
-- (gateway/portal.py). A subject or person under review is blocked, with the review's reason.
-- KEYS[1..] directory keys (newest first)
-- ARGV[4] subject key, ARGV[5] when the view began (ISO 8601), ARGV[6] the upstream had data (1|0)
-- -> name/value pairs (gateway/store/replies/ PortalReply): outcome (unknown_subject | blocked |
--    shown | no_data), reason; decided by the table made from gateway/decision.py
--    self_information_view
--#rules portal_self
local person = resolve_every(1, #KEYS)
local ard = flags_of(person or '')
local changed = redis.call('HGET', P .. 'flag:' .. (person or ''), 'updated_at') or ''
-- a subject or person under review (a remap not yet confirmed): whose flags apply is not
-- established, so nothing is shown (gateway/store/quarantine.py)
local review = review_every(ARGV[4], person)
-- the flag record changed after the view began: most likely the flag was set in flight
local outcome, reason = split_outcome(decided('portal_self',
  {person, ard, changed > ARGV[5], review, ARGV[6] == '1'}))
-- one event whatever the outcome, with the same fields; a blocked view is a security event
local ev = {'subject', person or ARGV[4], 'operation', 'GetSelfInformation',
  'decision', outcome, 'outcome', outcome, 'reason', reason, 'hidden', '0',
  'holders', holders_of({person or ''}, true)}
if outcome == 'blocked' then
  emit_stop('security.portal_blocked', 'portal', ev)
else
  emit_stop('portal.view', 'portal', ev)
end
return {'outcome', outcome, 'reason', reason}
