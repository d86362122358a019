-- Open a review (gateway/store/quarantine.py): from this step on, every query about the subject
-- or person is held with `reason` until staff confirm it. The event is recorded with it.
-- KEYS[1] the review. ARGV[4] id, ARGV[5] scope (subject|person), ARGV[6] key, ARGV[7] reason,
-- ARGV[8] actor, ARGV[9..] name/value pairs kept on the review (person keys only)
-- -> {'outcome', 'opened'}
-- Decides nothing: opening a review only ever holds more (what is held while one is open is
-- decided by the tables of admit, complete, result and the portal); who may open one is the
-- caller's (the check, the directory import, staff).
local fields = {}
for i = 9, #ARGV do fields[#fields + 1] = ARGV[i] end
open_review(ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], fields)
return {'outcome', 'opened'}
