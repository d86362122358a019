-- A claim on a held query (gateway/store/claims.py): the key holds 'login|until_ms', the end by
-- the gateway's clock (NOW_MS), which decides; the key's expiry (the same length) only clears it
-- away. A claim written before its end was stored holds just 'login': it lasts as long as its key.
-- Decides nothing: an include (`--#include claim`) that gathers facts for the scripts that
-- decide (staff_claim, staff_unclaim, staff_propose, staff_confirm, staff_withdraw: the `claim`,
-- `unclaim`, `propose`, `confirm` and `withdraw` tables); a claim past its end is no claim (time
-- reduced to a fact), and who() only names whose a login is.
local function claim_of(key)
  local v = redis.call('GET', key)
  if not v then return false, 0 end
  local login, until_ms = string.match(v, '^(.-)|(%d+)$')
  if not login then return v, redis.call('PTTL', key) end
  local left = tonumber(until_ms) - NOW_MS
  if left <= 0 then
    redis.call('DEL', key)
    return false, 0
  end
  return login, left
end

local function set_claim(key, login, ms)
  redis.call('SET', key, login .. '|' .. tostring(NOW_MS + ms), 'PX', ms)
end

-- Whose a claim, a proposal or a confirmation is, to the approver taking this step (ARGV[5] of
-- every script that includes this): 'none', 'self' or 'other' (gateway/step_rules.py Who).
local function who(login)
  if not login or login == '' then return 'none' end
  return login == ARGV[5] and 'self' or 'other'
end
