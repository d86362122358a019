-- `hogo-gateway flags repair` (gateway/flags/rules.py repair_aggregate): the flags every
-- decision reads (flag:<pk> ard / nd) and the counts that keep them (ard_holds / nd_holds) made
-- again from the person's department holds, after the check (gateway/verify) found them unlike
-- the holds: the holds themselves are put right with `flags set` / `flags release`, which each
-- change one department's hold and keep the counts by steps, so counts changed by hand would
-- stay wrong.
-- No hold changes here. Announced like a flag change, with its event (and the gateway's MAC).
-- KEYS[1] index of persons with a flag record. ARGV[4] person key, ARGV[5] actor,
-- ARGV[6] change id, ARGV[7] mac
-- -> {'outcome', 'repaired', 'was_ard', ard before, 'was_nd', nd before, 'ard', ard, 'nd', nd}
--    | {'outcome', 'none'} | {'outcome', 'old_model'} | {'outcome', 'unreadable', 'department',
--     dept}
-- Decides nothing by rule: the aggregate is made again as the OR of the holds, by the same
-- reduction flag_change.lua keeps by steps (a flag on while any hold has it on: count > 0; no
-- table of the core holds it, see docs/security.md), and tests/test_flag_verify*.py hold the
-- repaired aggregate to the holds; who may repair is the operator's command.
--#include flag_holds
local pk = ARGV[4]
local fkey = P .. 'flag:' .. pk
local stored = redis.call('HGETALL', hold_key(pk))
if #stored == 0 and redis.call('EXISTS', fkey) == 0 then return {'outcome', 'none'} end
local rec = redis.call('HMGET', fkey, 'model', 'legacy_seen', 'ard', 'nd')
if (rec[1] and rec[1] ~= '2')
    or redis.call('LLEN', P .. 'flaghist:' .. pk) > (tonumber(rec[2]) or 0) then
  return {'outcome', 'old_model'}  -- `flags upgrade` first
end
local na, nn = 0, 0
for i = 1, #stored, 2 do
  local ok, h = pcall(cjson.decode, stored[i + 1])
  if not ok or type(h) ~= 'table' then return {'outcome', 'unreadable', 'department', stored[i]} end
  if h.ard == '1' then na = na + 1 end
  if h.nd == '1' then nn = nn + 1 end
end
local ard, nd = na > 0 and '1' or '0', nn > 0 and '1' or '0'
local version = redis.call('HINCRBY', fkey, 'version', 1)
redis.call('HSET', fkey, 'ard', ard, 'nd', nd, 'ard_holds', na, 'nd_holds', nn,
  'updated_at', NOW, 'model', '2')
redis.call('ZADD', KEYS[1], NOW_MS, pk)
redis.call('INCR', P .. 'flagepoch')
redis.call('PUBLISH', P .. 'flagchanged', pk)
emit('flag.repaired', ARGV[5], {'subject', pk, 'ard', ard, 'nd', nd,
  'was_ard', rec[3] or '', 'was_nd', rec[4] or '', 'version', tostring(version),
  'change', ARGV[6], 'mac', ARGV[7]})
return {'outcome', 'repaired', 'was_ard', rec[3] or '', 'was_nd', rec[4] or '', 'ard', ard,
  'nd', nd}
