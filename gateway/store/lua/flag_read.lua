-- A department's business system reads one person's flag state (the using departments' API),
-- recorded in the same atomic step: no read without its event. A holding department that is not
-- a using department (mode 'own') may read only a person whose flag it set itself.
-- KEYS[1] flag record, KEYS[2] the departments that set it
-- ARGV[4] person key, ARGV[5] mode (any|own), ARGV[6] department, ARGV[7] business,
-- ARGV[8] actor (the token), ARGV[9] operator (the person at the business system, or '')
-- -> {'ok', victim (1|0), sealed name or ''} | {'denied'}
local ev = {'subject', ARGV[4], 'department', ARGV[6], 'business', ARGV[7], 'operator', ARGV[9]}
if ARGV[5] == 'own' and redis.call('SISMEMBER', KEYS[2], ARGV[6]) == 0 then
  ev[#ev + 1] = 'reason'
  ev[#ev + 1] = 'not_set_by_this_department'
  emit('security.flag_read_refused', ARGV[8], ev)
  return {'denied'}
end
local ard, nd = flags_of(ARGV[4])
local victim = ard or nd
ev[#ev + 1] = 'victim'
ev[#ev + 1] = victim and '1' or '0'
emit('flag.read', ARGV[8], ev)
if not victim then return {'ok', 0, ''} end
return {'ok', 1, redis.call('HGET', KEYS[1], 'name') or ''}
