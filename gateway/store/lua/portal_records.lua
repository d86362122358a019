-- One 情報提供等記録表示 (GetProvisionRecords): resolve the subject, read its flags and its records
-- and record the view, in one atomic step whose store work is the same whoever the person is
-- (flagged, not flagged, unknown): every directory key read, one flag read (of no record when
-- unknown), two review reads, every records key read, one read of the holding departments'
-- holds, one event and its entry in the inbox of attempts. While the person has 不開示該当,
-- or the subject or person is under review, no record is shown; a record marked non-disclosable
-- when it was made (nd) never is; an unknown subject's flag state cannot be established, so
-- nothing is shown.
-- KEYS[1..n] directory keys, KEYS[n+1..2n] records keys (newest key version first)
-- ARGV[4] subject key, ARGV[5] n
-- -> name/value pairs (gateway/store/replies/ PortalReply): outcome (unknown_subject |
--    filtered | shown), reason, hidden, records (the records shown); each record judged by the
--    table made from gateway/decision.py record_shown, the view by provision_records_view
--#rules record_shown portal_records
local n = tonumber(ARGV[5])
local person = resolve_every(1, n)
local _, nd = flags_of(person or '')
-- a subject or person under review (a remap not yet confirmed) shows nothing either
local review = review_every(ARGV[4], person)
local shown, hidden = {}, 0
for i = n + 1, 2 * n do
  for _, raw in ipairs(redis.call('LRANGE', KEYS[i], 0, -1)) do
    local marked = tonumber(cjson.decode(raw).nd or 0) == 1
    if decided('record_shown', {person, nd, review, marked}) == '1' then
      shown[#shown + 1] = raw
    else
      hidden = hidden + 1
    end
  end
end
local outcome, reason = split_outcome(decided('portal_records', {person, nd, review, hidden > 0}))
-- one event whatever the outcome, with the same fields; hiding records is a security event
local ev = {'subject', person or ARGV[4], 'operation', 'GetProvisionRecords',
  'decision', outcome, 'outcome', outcome, 'reason', reason, 'hidden', tostring(hidden),
  'holders', holders_of({person or ''}, true)}
if outcome == 'filtered' then
  emit_stop('security.portal_filtered', 'portal', ev)
else
  emit_stop('portal.view', 'portal', ev)
end
return {'outcome', outcome, 'reason', reason, 'hidden', tostring(hidden), 'records', shown}
