"""The Lua tables the store's scripts decide by, generated from the pure core.

The decisions must be made inside the atomic Lua steps (a flag set between a Python check and the
write would slip through), yet the rules are written once, in Python: gateway.decision,
gateway.recheck and gateway.lifecycle. So each rule here is a pure function over a small, finite
set of facts; `RULES` enumerates every combination of them, calls the Python function, and
`lua_chunk` writes the outcomes as Lua tables that gateway/store/scripts.py puts in front of the
scripts that ask for them (`--#rules NAME ...` in a script). A script gathers its facts, reduces
what is not finite (versions, times) to booleans, and looks the outcome up with `decided(NAME,
{facts})`; a combination the table does not hold (a review of a reason the core does not know)
stops the step with an error: nothing is written, nothing answered. Nothing is generated into the
repository, so nothing can go stale; tests/test_rules_exhaustive.py runs every deciding script
through every combination against these same functions.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

from gateway import (
    audit_rules,
    directory_rules,
    keyring_rules,
    pattern_rules,
    rate_rules,
    step_rules,
)
from gateway.decision import (
    REVIEW_REASONS,
    AdmissionFacts,
    RelayFacts,
    decide,
    provision_records_view,
    record_is_non_disclosable,
    record_shown,
    relay,
    result_access,
    self_information_view,
)
from gateway.directory_rules import Expected, FlagStatus
from gateway.flag_rules import (
    ReadMode,
    change_guard,
    department_read,
    release_cancel,
    release_request,
    review_confirmation,
)
from gateway.lifecycle import ABANDONABLE, STEPS
from gateway.model import FlagState, QueryState
from gateway.recheck import (
    AnswerFacts,
    answer_withheld,
    refusal,
    release_begin,
    release_finish,
    released_record_non_disclosable,
)
from gateway.step_rules import Who

BOOL = ("0", "1")  # a boolean fact, as the key spells it
NONE = "-"  # an optional fact that is absent (Lua: false or nil)


@dataclass(frozen=True, slots=True)
class Rule:
    """One decision: its facts (name, the values each may take, as the key spells them) in key
    order, and the pure function from those facts to the outcome string the script acts on."""

    name: str
    facts: tuple[tuple[str, tuple[str, ...]], ...]
    outcome: Callable[..., str]

    def table(self) -> dict[str, str]:
        """Every combination of the facts -> its outcome."""
        domains = [values for _, values in self.facts]
        return {":".join(c): self.outcome(*c) for c in itertools.product(*domains)}


def _b(v: str) -> bool:
    return v == "1"


def _opt(v: str) -> str | None:
    return None if v == NONE else v


REVIEW = (NONE, *(r.value for r in REVIEW_REASONS))


def _admit(
    registered: str, permitted: str, existing: str, known: str, ard: str, review: str
) -> str:
    flags = FlagState(_b(ard), False) if _b(known) else None
    d = decide(
        AdmissionFacts(_b(registered), _b(permitted), _b(existing), _b(known), flags, _opt(review))
    )
    return f"{d.action.value}:{d.reason}"


def _relay(known: str, ard: str, moved: str, review: str) -> str:
    d = relay(RelayFacts(_b(known), _b(ard), _b(moved), _opt(review)))
    return f"{d.action.value}:{d.reason}"


def _record_nd(nd_now: str, nd_at_arrival: str, requester_nd: str) -> str:
    return BOOL[record_is_non_disclosable(_b(nd_now), _b(nd_at_arrival), _b(requester_nd))]


def _result_access(registered: str, found: str, permitted: str) -> str:
    return result_access(_b(registered), _b(found), _b(permitted)).value


def _withheld(state: str, moved: str, review: str, ard: str, changed: str) -> str:
    why = answer_withheld(
        AnswerFacts(QueryState(state), _b(moved), _opt(review), _b(ard), _b(changed))
    )
    return why.value if why else ""


def _portal_self(known: str, ard: str, changed: str, review: str, has_data: str) -> str:
    d = self_information_view(_b(known), _b(ard), _b(changed), _opt(review), _b(has_data))
    return f"{d.action.value}:{d.reason}"


def _record_shown(known: str, nd: str, review: str, record_nd: str) -> str:
    return BOOL[record_shown(_b(known), _b(nd), _opt(review), _b(record_nd))]


def _portal_records(known: str, nd: str, review: str, any_hidden: str) -> str:
    d = provision_records_view(_b(known), _b(nd), _opt(review), _b(any_hidden))
    return f"{d.action.value}:{d.reason}"


def _released_nd(known: str, nd_admitted: str, nd_now: str, nd_then: str, req_nd: str) -> str:
    nd = released_record_non_disclosable(
        _b(known), _b(nd_admitted), _b(nd_now), _b(nd_then), _b(req_nd)
    )
    return BOOL[nd]


def _three(rule: Callable[[bool, bool, bool], str]) -> Callable[[str, str, str], str]:
    return lambda a, b, c: rule(_b(a), _b(b), _b(c))


def _flag_read(mode: str, own: str, own_on: str, any_flag: str) -> str:
    return department_read(ReadMode(mode), _b(own), _b(own_on), _b(any_flag))


def _four(rule: Callable[[bool, bool, bool, bool], str]) -> Callable[[str, str, str, str], str]:
    return lambda a, b, c, d: rule(_b(a), _b(b), _b(c), _b(d))


def _two(rule: Callable[[bool, bool], str]) -> Callable[[str, str], str]:
    return lambda a, b: rule(_b(a), _b(b))


WHO = tuple(w.value for w in Who)  # whose a claim, proposal or confirmation is (step_rules.Who)


def _row_write(expected: str, as_found: str, allowed: str, review: str, same: str) -> str:
    return directory_rules.row_write(
        Expected(expected), _b(as_found), _b(allowed), _b(review), _b(same)
    )


def _remap_notice(old_flag: str, new_flag: str) -> str:
    return directory_rules.remap_notice(FlagStatus(old_flag), FlagStatus(new_flag))


FLAG_STATUS = tuple(f.value for f in FlagStatus)


def _who(rule: Callable[..., str], *kinds: str) -> Callable[..., str]:
    """A rule over booleans ('b') and Who values ('w'), called with their key spellings."""
    return lambda *v: rule(*(_b(x) if k == "b" else Who(x) for k, x in zip(kinds, v, strict=True)))


RULES: dict[str, Rule] = {
    r.name: r
    for r in (
        Rule(
            "admit",
            (
                ("registered", BOOL),
                ("permitted", BOOL),
                ("existing", BOOL),
                ("known", BOOL),
                ("ard", BOOL),
                ("review", REVIEW),
            ),
            _admit,
        ),
        Rule(
            "relay", (("known", BOOL), ("ard", BOOL), ("moved", BOOL), ("review", REVIEW)), _relay
        ),
        Rule(
            "record_nd",
            (("nd_now", BOOL), ("nd_at_arrival", BOOL), ("requester_nd", BOOL)),
            _record_nd,
        ),
        Rule(
            "result_access",
            (("registered", BOOL), ("found", BOOL), ("permitted", BOOL)),
            _result_access,
        ),
        Rule(
            "withheld",
            (
                ("state", tuple(s.value for s in QueryState)),
                ("moved", BOOL),
                ("review", REVIEW),
                ("ard", BOOL),
                ("changed", BOOL),
            ),
            _withheld,
        ),
        Rule(
            "portal_self",
            (
                ("known", BOOL),
                ("ard", BOOL),
                ("changed", BOOL),
                ("review", REVIEW),
                ("has_data", BOOL),
            ),
            _portal_self,
        ),
        Rule(
            "record_shown",
            (("known", BOOL), ("nd", BOOL), ("review", REVIEW), ("record_nd", BOOL)),
            _record_shown,
        ),
        Rule(
            "portal_records",
            (("known", BOOL), ("nd", BOOL), ("review", REVIEW), ("any_hidden", BOOL)),
            _portal_records,
        ),
        Rule(
            "released_nd",
            (
                ("known_now", BOOL),
                ("nd_admitted", BOOL),
                ("nd_now", BOOL),
                ("nd_at_arrival", BOOL),
                ("requester_nd", BOOL),
            ),
            _released_nd,
        ),
        Rule(
            "release_begin",
            (("held", BOOL), ("seen_same", BOOL), ("lock_free", BOOL)),
            _three(release_begin),
        ),
        Rule(
            "release_finish",
            (("held", BOOL), ("lock_ours", BOOL), ("seen_same", BOOL)),
            _three(release_finish),
        ),
        Rule("refuse", (("held", BOOL), ("releasing", BOOL)), _two(refusal)),
        Rule(
            "flag_read",
            (
                ("mode", tuple(m.value for m in ReadMode)),
                ("own_hold", BOOL),
                ("own_hold_on", BOOL),
                ("any_flag", BOOL),
            ),
            _flag_read,
        ),
        Rule(
            "release_request",
            (("holder", BOOL), ("on", BOOL), ("asked_on", BOOL), ("pending", BOOL)),
            _four(release_request),
        ),
        Rule(
            "flag_change",
            (
                ("release", BOOL),
                ("held", BOOL),
                ("request", BOOL),
                ("found", BOOL),
                ("pending", BOOL),
                ("matches", BOOL),
                ("same_person", BOOL),
                ("version_same", BOOL),
            ),
            lambda *v: change_guard(*(_b(x) for x in v)),
        ),
        Rule(
            "release_cancel",
            (("found", BOOL), ("pending", BOOL), ("own_department", BOOL)),
            _three(release_cancel),
        ),
        Rule(
            "review_confirm",
            (("known", BOOL), ("open", BOOL), ("same_person", BOOL)),
            _three(review_confirmation),
        ),
        Rule(
            "rights_change",
            (("registered", BOOL), ("grant", BOOL), ("whole", BOOL), ("holds_affair", BOOL)),
            _four(step_rules.rights_change),
        ),
        Rule(
            "login_failed",
            (("wrong_password", BOOL), ("known", BOOL), ("reaches_limit", BOOL)),
            _three(step_rules.login_failure),
        ),
        Rule(
            "login_ok",
            (("same_password", BOOL), ("disabled", BOOL), ("locked", BOOL)),
            _three(step_rules.session_opening),
        ),
        Rule(
            "session",
            (
                ("found", BOOL),
                ("past_end", BOOL),
                ("past_idle", BOOL),
                ("user", BOOL),
                ("disabled", BOOL),
                ("same_epoch", BOOL),
            ),
            lambda *v: step_rules.session_check(*(_b(x) for x in v)),
        ),
        Rule(
            "attempt_ack",
            (("found", BOOL), ("own_department", BOOL), ("open", BOOL)),
            _three(step_rules.attempt_acknowledgement),
        ),
        Rule("claim", (("held", BOOL), ("claim", WHO)), _who(step_rules.claim, "b", "w")),
        Rule("unclaim", (("claim", WHO),), _who(step_rules.unclaim, "w")),
        Rule(
            "propose",
            (("held", BOOL), ("claim", WHO), ("proposal", WHO)),
            _who(step_rules.propose, "b", "w", "w"),
        ),
        Rule(
            "confirm",
            (("held", BOOL), ("proposal", WHO), ("claim", WHO), ("confirmer", WHO)),
            _who(step_rules.confirm, "b", "w", "w", "w"),
        ),
        Rule(
            "withdraw",
            (("proposal", WHO), ("confirmer", WHO)),
            _who(step_rules.withdraw, "w", "w"),
        ),
        Rule(
            "pattern",
            (("reached", BOOL), ("fired_in_window", BOOL)),
            _two(pattern_rules.count_fires),
        ),
        Rule(
            "pattern_rate",
            (("floor_reached", BOOL), ("above_usual", BOOL), ("fired_today", BOOL)),
            _three(pattern_rules.rate_fires),
        ),
        Rule(
            "keyring",
            (("differs", BOOL), ("missing", BOOL)),
            _two(keyring_rules.keyring_agreement),
        ),
        Rule(
            "rate_read",
            (("over_limit", BOOL), ("first_over", BOOL)),
            _two(rate_rules.read_counted),
        ),
        Rule("lease", (("found", BOOL), ("ours", BOOL)), _two(audit_rules.lease)),
        Rule(
            "seal",
            (("lease_ours", BOOL), ("head_same", BOOL), ("trail_before", BOOL)),
            _three(audit_rules.seal),
        ),
        Rule(
            "trim",
            (("lease_ours", BOOL), ("beyond_head", BOOL), ("past_mark", BOOL)),
            _three(audit_rules.trim),
        ),
        Rule(
            "dir_row", (("mapped", BOOL), ("same_person", BOOL)), _two(directory_rules.row_status)
        ),
        Rule(
            "dir_write",
            (
                ("expected", tuple(e.value for e in Expected)),
                ("as_found", BOOL),
                ("remaps_allowed", BOOL),
                ("review", BOOL),
                ("same_person", BOOL),
            ),
            _row_write,
        ),
        Rule("dir_remap", (("old_flag", FLAG_STATUS), ("new_flag", FLAG_STATUS)), _remap_notice),
    )
}

# Looking an outcome up, and whether a step may move a query: the same for every script. Each
# table is one Lua string constant, '|key=outcome|key=outcome|...|', made once when the script is
# loaded: a script builds no table of its own when it runs (the automatic path's admit and
# complete run on every answer), and looking a key up is one plain search of that string.
HELPERS = """
-- Generated (gateway/store/rules_lua.py): the outcome of rule `name` for these facts, in the
-- order its table was made with. A combination the table lacks stops the step, writing nothing.
local function decided(name, facts)
  local kinds = RULES_FACTS[name]
  local parts = {}
  for i = 1, #kinds do
    local v = facts[i]
    if string.sub(kinds, i, i) == 'b' then
      parts[i] = v and '1' or '0'
    elseif v == nil or v == false or v == '' then
      parts[i] = '-'
    elseif string.find(v, '^[%w_]+$') then
      parts[i] = v
    else
      -- never a separator from the store's data in a key: it could match another row
      error('rules: ' .. name .. ' fact ' .. i .. ' is not a plain word')
    end
  end
  local key = table.concat(parts, ':')
  local rows = RULES[name]
  local at = string.find(rows, '|' .. key .. '=', 1, true)
  if not at then error('rules: ' .. name .. ' has no outcome for ' .. key) end
  local from = at + #key + 2
  return string.sub(rows, from, string.find(rows, '|', from, true) - 1)
end

-- The action and the reason of an outcome 'action:reason'.
local function split_outcome(out)
  local colon = string.find(out, ':', 1, true)
  return string.sub(out, 1, colon - 1), string.sub(out, colon + 1)
end

-- Whether `step` may move a query from state `from` (false: no such query) to `to`
-- (gateway/lifecycle.py STEPS).
local function may_move(step, from, to)
  if not from then return false end
  return string.find(STEPS, '|' .. step .. ':' .. from .. '>' .. to .. '|', 1, true) ~= nil
end
"""

PLAIN = re.compile(r"[a-z0-9_:>-]*")


def _plain(s: str) -> str:
    """A key or an outcome as it may stand in a table string (no quote, no separator)."""
    if not PLAIN.fullmatch(s.lower()):
        raise ValueError(f"not a plain key or outcome: {s!r}")
    return s


def _rule_lua(rule: Rule) -> str:
    kinds = "".join("b" if values == BOOL else "s" for _, values in rule.facts)
    rows = "".join(f"{_plain(k)}={_plain(v)}|" for k, v in rule.table().items())
    return f"RULES_FACTS.{rule.name} = '{kinds}'\nRULES.{rule.name} = '|{rows}'\n"


def _steps_lua() -> str:
    moves = "".join(
        f"{step}:{a.value}>{b.value}|" for step, pairs in STEPS.items() for a, b in sorted(pairs)
    )
    # forgetting a query is no state: 'forgotten' stands for it (lua/abandon.lua)
    moves += "".join(f"abandon:{a.value}>forgotten|" for a in sorted(ABANDONABLE))
    return f"local STEPS = '|{moves}'\n"


@cache
def lua_chunk(names: Sequence[str] = ()) -> str:
    """The tables of the rules `names` (only those), the lifecycle's steps and the helpers, to put
    in front of a script."""
    parts = [
        "-- Generated by gateway/store/rules_lua.py from the pure core: do not edit.",
        "local RULES, RULES_FACTS = {}, {}",
    ]
    parts += [_rule_lua(RULES[n]) for n in names]
    parts += [_steps_lua(), HELPERS]
    return "\n".join(parts)
