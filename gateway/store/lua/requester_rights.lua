-- Grant or revoke a requester's right to ask about an affair (事務), whole or some procedures
-- (事務手続) of it. A right is a member of the requester's rights set: 'JM…' for the whole affair,
-- 'JM…:JT…' for one procedure. Nothing outside the set is permitted (deny by default, admit.lua).
-- KEYS[1] requester, KEYS[2] rights. ARGV[4] org, ARGV[5] grant|revoke, ARGV[6] actor,
-- ARGV[7] affair, ARGV[8..] procedures (none: the whole affair)
-- -> {'outcome', 'ok', 'changed', members changed} | {'outcome', 'unknown'} | {'outcome',
--     'whole_affair'}
-- Decides by the table `rights_change` (gateway/step_rules.py rights_change).
--#rules rights_change
local affair = ARGV[7]
local members = {}
for i = 8, #ARGV do members[#members + 1] = affair .. ':' .. ARGV[i] end
local grant = ARGV[5] == 'grant'
if not grant and ARGV[5] ~= 'revoke' then error('requester_rights: ' .. ARGV[5]) end
local outcome = decided('rights_change', {redis.call('EXISTS', KEYS[1]) == 1, grant,
  #members == 0, redis.call('SISMEMBER', KEYS[2], affair) == 1})
if outcome ~= 'ok' then return {'outcome', outcome} end
local changed = 0
if grant then
  if #members == 0 then members = {affair} end
  changed = redis.call('SADD', KEYS[2], unpack(members))
else
  if #members == 0 then
    -- the whole affair: the affair itself and every procedure of it
    members = {affair}
    for _, m in ipairs(redis.call('SMEMBERS', KEYS[2])) do
      if string.sub(m, 1, #affair + 1) == affair .. ':' then members[#members + 1] = m end
    end
  end
  changed = redis.call('SREM', KEYS[2], unpack(members))
end
local procedures = {}
for i = 8, #ARGV do procedures[#procedures + 1] = ARGV[i] end
emit('requester.' .. (ARGV[5] == 'grant' and 'granted' or 'revoked'), ARGV[6], {'org', ARGV[4],
  'affair', affair, 'procedures', table.concat(procedures, ','), 'changed', tostring(changed)})
return {'outcome', 'ok', 'changed', changed}
