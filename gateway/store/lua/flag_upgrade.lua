-- Turn records of the single-record model into holds, one person at a time within one step each
-- (the same state, said per department: see flag_holds.lua). Run by `hogo-gateway flags
-- upgrade`; every flag script also does it for the person it touches, first.
-- ARGV[4] actor, ARGV[5...] person keys
-- -> {'outcome', 'ok', 'upgraded', upgraded count, 'orphans', {orphan person keys...}}
-- Decides nothing: turning the single-record model into holds changes no state (see
-- flag_holds.lua upgrade_person); an orphan (a flag on and no department) is left protected.
--#include flag_holds
local upgraded, orphans = 0, {}
for i = 5, #ARGV do
  local outcome = upgrade_person(ARGV[i], ARGV[4])
  if outcome == 'upgraded' then upgraded = upgraded + 1 end
  if outcome == 'orphan' then orphans[#orphans + 1] = ARGV[i] end
end
return {'outcome', 'ok', 'upgraded', upgraded, 'orphans', orphans}
