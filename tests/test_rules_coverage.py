"""The truth test (issue 12): no script in gateway/store/lua/ decides without the core, and no table
the scripts decide by goes untested.

Every script either names the tables it decides by (`--#rules NAME ...`: tables generated from the
pure core, gateway/store/rules_lua.py; an empty `--#rules` is the lifecycle's steps alone, for a
script that moves a query), and then looks each of them up (`decided('NAME'`, `may_move(`); or says
in its header that it "Decides nothing" (and why), and then looks nothing up; or is one of the
INCLUDES, which other scripts take in. Every table a script names is driven through every
combination of its facts in a real Redis by the test EXHAUSTIVE names for it: that test exists, runs
against the store (a coroutine taking a running gateway), and calls the core function the table is
generated from. A new script, a new table, or a test renamed away fails here until it is accounted
for; `test_a_script_that_is_not_accounted_for_fails_the_check` shows that the check can fail.
"""

from __future__ import annotations

import importlib
import inspect
import re
import shutil
from pathlib import Path

from gateway.store.rules_lua import RULES
from gateway.store.scripts import INCLUDE, LUA_DIR, RULES_LINE

STEPS = (
    "steps"  # the lifecycle's steps (gateway/lifecycle.py STEPS), which `--#rules` always brings
)
INCLUDES = {
    "prelude": "in front of every script (gateway/store/scripts.py)",
    "claim": "`--#include claim`: whose a claim is (the four-eyes steps)",
    "flag_holds": "`--#include flag_holds`: a department's hold, the single-record model upgraded",
}

# table -> (test module, test function, the core function it compares the script with)
_EX, _ST = "tests.test_rules_exhaustive", "tests.test_rules_steps"
EXHAUSTIVE: dict[str, tuple[str, str, str]] = {
    "admit": (_EX, "test_the_admission_script_acts_as_decide_says_on_every_combination", "decide"),
    "relay": (_EX, "test_the_last_moment_acts_as_relay_says_on_every_combination", "relay"),
    "record_nd": (
        _EX,
        "test_the_last_moment_acts_as_relay_says_on_every_combination",
        "record_is_non_disclosable",
    ),
    "result_access": (_EX, "test_who_may_learn_a_result_is_result_access", "result_access"),
    "withheld": (
        _EX,
        "test_a_stored_answer_is_withheld_exactly_as_the_core_says",
        "answer_withheld",
    ),
    STEPS: (_EX, "test_every_step_moves_a_query_only_as_the_lifecycle_says", "STEPS"),
    "portal_self": (
        _EX,
        "test_a_self_information_view_shows_exactly_what_the_core_says",
        "self_information_view",
    ),
    "record_shown": (
        _EX,
        "test_a_records_view_shows_exactly_the_records_the_core_shows",
        "record_shown",
    ),
    "portal_records": (
        _EX,
        "test_a_records_view_shows_exactly_the_records_the_core_shows",
        "provision_records_view",
    ),
    "release_begin": (_EX, "test_the_release_steps_act_as_the_core_says", "release_begin"),
    "release_finish": (_EX, "test_the_release_steps_act_as_the_core_says", "release_finish"),
    "released_nd": (
        _EX,
        "test_the_release_steps_act_as_the_core_says",
        "released_record_non_disclosable",
    ),
    "refuse": (_EX, "test_a_refusal_acts_as_the_core_says", "refusal"),
    "flag_read": (
        _EX,
        "test_a_department_reads_a_flag_state_as_the_core_says",
        "department_read",
    ),
    "release_request": (_EX, "test_a_release_request_is_taken_as_the_core_says", "release_request"),
    "review_confirm": (_EX, "test_a_review_is_confirmed_as_the_core_says", "review_confirmation"),
    "flag_change": (
        "tests.test_rules_flag_change",
        "test_a_flag_change_is_guarded_as_the_core_says",
        "change_guard",
    ),
    "release_cancel": (
        "tests.test_rules_release_cancel",
        "test_a_release_request_is_withdrawn_as_the_core_says",
        "release_cancel",
    ),
    "rate_read": (
        "tests.test_rules_rate",
        "test_a_read_is_counted_and_refused_as_the_core_says",
        "read_counted",
    ),
    "rights_change": (_ST, "test_a_rights_change_acts_as_the_core_says", "rights_change"),
    "login_failed": (
        _ST,
        "test_a_failed_login_counts_and_locks_as_the_core_says",
        "login_failure",
    ),
    "login_ok": (_ST, "test_a_session_opens_as_the_core_says", "session_opening"),
    "session": (_ST, "test_a_session_stays_valid_as_the_core_says", "session_check"),
    "attempt_ack": (
        _ST,
        "test_an_attempt_is_acknowledged_as_the_core_says",
        "attempt_acknowledgement",
    ),
    "claim": (_ST, "test_claiming_acts_as_the_core_says", "claim"),
    "unclaim": (_ST, "test_giving_a_claim_back_acts_as_the_core_says", "unclaim"),
    "propose": (_ST, "test_proposing_acts_as_the_core_says", "propose"),
    "confirm": (_ST, "test_confirming_acts_as_the_core_says", "confirm"),
    "withdraw": (_ST, "test_withdrawing_acts_as_the_core_says", "withdraw"),
    "pattern": (
        "tests.test_rules_patterns",
        "test_a_count_rule_fires_as_the_core_says",
        "count_fires",
    ),
    "pattern_rate": (
        "tests.test_rules_patterns",
        "test_the_rate_rule_fires_as_the_core_says",
        "rate_fires",
    ),
    "keyring": (
        "tests.test_rules_keyring",
        "test_the_keys_are_checked_as_the_core_says",
        "keyring_agreement",
    ),
    "lease": ("tests.test_rules_audit", "test_a_lease_is_held_as_the_core_says", "lease"),
    "seal": ("tests.test_rules_audit", "test_a_block_is_sealed_as_the_core_says", "seal"),
    "trim": (
        "tests.test_rules_audit",
        "test_the_archived_trail_is_trimmed_as_the_core_says",
        "trim",
    ),
    "dir_row": (
        "tests.test_rules_directory",
        "test_the_first_pass_sorts_rows_as_the_core_says",
        "row_status",
    ),
    "dir_write": (
        "tests.test_rules_directory",
        "test_the_second_pass_writes_as_the_core_says",
        "row_write",
    ),
    "dir_remap": (
        "tests.test_rules_directory",
        "test_the_second_pass_writes_as_the_core_says",
        "remap_notice",
    ),
}


def _header(source: str) -> str:
    """The comment block a script begins with."""
    lines = []
    for line in source.splitlines():
        if not line.startswith("--"):
            break
        lines.append(line)
    return "\n".join(lines)


def tables_of(source: str) -> set[str] | None:
    """The tables a script decides by (the steps for an empty `--#rules`), or None: no `--#rules`."""
    found = RULES_LINE.findall(source)
    if not found:
        return None
    return {STEPS} | {name for names in found for name in names.split()}


def unaccounted(lua_dir: Path) -> list[str]:
    """What is wrong with the scripts in `lua_dir`, one line each (nothing: every one accounted
    for)."""
    problems = []
    sources = {p.stem: p.read_text() for p in sorted(lua_dir.glob("*.lua"))}
    included = {m for s in sources.values() for m in INCLUDE.findall(s)} | {"prelude"}
    if included != set(INCLUDES):
        problems.append(f"the includes are {sorted(included)}, INCLUDES says {sorted(INCLUDES)}")
    for name, source in sources.items():
        tables = tables_of(source)
        says_nothing = "Decides nothing" in _header(source)
        looks_up = "decided(" in source or "may_move(" in source
        if name in INCLUDES:
            if tables is not None or looks_up:
                problems.append(f"{name}: an include looks nothing up (its includer does)")
            if not says_nothing:
                problems.append(f"{name}: an include says in its header that it decides nothing")
        elif tables is None:
            if not says_nothing:
                problems.append(f"{name}: neither `--#rules NAME` nor 'Decides nothing' (and why)")
            elif looks_up:
                problems.append(f"{name}: says it decides nothing, yet looks a table up")
        else:
            for table in sorted(tables - {STEPS}):
                if table not in RULES:
                    problems.append(f"{name}: no table {table} in gateway/store/rules_lua.py")
                if "decided(" not in source or f"'{table}'" not in source:
                    problems.append(f"{name}: asks for table {table} and never looks it up")
            if tables == {STEPS} and "may_move(" not in source:
                problems.append(f"{name}: an empty `--#rules` without a step (may_move)")
            for table in sorted(tables):
                if table not in EXHAUSTIVE:
                    problems.append(f"{name}: table {table} has no exhaustive test (EXHAUSTIVE)")
    return problems


def test_every_script_decides_by_a_table_or_says_it_decides_nothing() -> None:
    assert unaccounted(LUA_DIR) == []


def test_a_script_that_is_not_accounted_for_fails_the_check(tmp_path: Path) -> None:
    """The check can fail: a copy of the scripts with one more that decides by hand, one that
    asks for a table without an exhaustive test, and one that says it decides nothing but looks
    a table up."""
    lua = tmp_path / "lua"
    shutil.copytree(LUA_DIR, lua)
    (lua / "by_hand.lua").write_text("-- Cancel it.\nif x then return 1 end\n")
    (lua / "untested.lua").write_text("-- A new rule.\n--#rules no_such_table\nreturn 0\n")
    (lua / "liar.lua").write_text(
        "-- Decides nothing.\n--#include claim\nreturn decided('a', {})\n"
    )
    problems = sorted(set(unaccounted(lua)) - set(unaccounted(LUA_DIR)))
    assert any(p.startswith("by_hand:") for p in problems), problems
    assert any(p.startswith("untested:") and "exhaustive" in p for p in problems), problems
    assert any(p.startswith("liar:") for p in problems), problems
    assert len(problems) == 5, problems  # untested: no table, not looked up, no test


def test_every_table_a_script_names_has_a_real_exhaustive_test() -> None:
    """Each test EXHAUSTIVE names exists, drives the store (a coroutine taking a running gateway)
    and calls the core function its table is made from; and EXHAUSTIVE names no table that no
    script decides by (a stale entry would hide a table that lost its test)."""
    named = set()
    for path in LUA_DIR.glob("*.lua"):
        named |= tables_of(path.read_text()) or set()
    assert set(EXHAUSTIVE) == named
    assert set(RULES) | {STEPS} == named  # no table made that no script decides by
    for table, (module, test, core) in EXHAUSTIVE.items():
        fn = getattr(importlib.import_module(module), test, None)
        assert fn is not None and inspect.iscoroutinefunction(fn), (table, test)
        params = inspect.signature(fn).parameters
        assert params and next(iter(params)) in ("running", "gw"), (table, test)
        call = core if core.isupper() else f"{core}("  # a function called, or the steps read
        assert re.search(rf"\b{re.escape(call)}", inspect.getsource(fn)), (table, test, core)
