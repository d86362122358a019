"""The message catalog: every text the console shows exists in Japanese and English, with the same
parameters; the language switch works and cannot be turned into an open redirect."""

from __future__ import annotations

import re
import string
from pathlib import Path

import gateway.staff
from gateway.model import HoldReason, QueryState
from gateway.services.accounts import ROLES
from gateway.staff.i18n import MESSAGES
from gateway.staff.render import NAV
from tests.conftest import Running
from tests.staffkit import Staff, title_of

STAFF_DIR = Path(gateway.staff.__file__).parent


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def used_keys() -> set[str]:
    keys: set[str] = set()
    for tpl in (STAFF_DIR / "templates").glob("*.html"):
        # literal keys only; `_('role.' ~ x)` families are listed below
        keys |= set(re.findall(r"_\('([a-z_.\-]*[a-z])'\)", tpl.read_text()))
        keys |= set(re.findall(r"_\('([a-z_.\-]*[a-z])',", tpl.read_text()))
    for py in [*STAFF_DIR.glob("*.py"), *(STAFF_DIR.parent / "services").glob("*.py")]:
        src = py.read_text()
        keys |= {
            k
            for k in re.findall(r'"((?:err|ok|title|flags|due|nav|age)\.[a-z_.\-]+)"', src)
            if not k.endswith(".html")
        }
        keys |= {f"err.{code}" for code in re.findall(r'ApprovalError\(\s*"([a-z_]+)"', src)}
    keys |= {f"role.{r}" for r in ROLES}
    keys |= {f"state.{s.value}" for s in QueryState}
    keys |= {f"reason.{r.value}" for r in HoldReason}
    keys |= {f"audit.status_{s}" for s in ("all", "open", "reviewed")}
    keys |= {f"audit.scope_{s}" for s in ("blocked", "all")}
    keys |= {f"err.denied_{w}" for w in ("login", "role", "csrf")}
    keys |= {f"ok.user_{a}" for a in ("add", "disable", "enable", "unlock", "password", "role")}
    keys |= {key for items in NAV.values() for _, key in items}
    from gateway.services.approvals import _CLAIM_ERRORS, _QUEUE_STATUS

    keys |= {f"err.{'no_proposal' if c == 'none' else c}" for c in _CLAIM_ERRORS}
    keys |= {f"err.{c}" for c in _QUEUE_STATUS}
    keys |= {f"{family}.{code}" for family, codes in refusal_reasons().items() for code in codes}
    return keys


def refusal_reasons() -> dict[str, set[str]]:
    """Every reason code the flag rules can refuse with (shown by the console as err.flag.<code>)
    and annex 1 (err.annex.<code>), read from the code that raises them."""
    root = STAFF_DIR.parent
    src = "".join(
        (root / name).read_text()
        for name in (
            *(f"flags/{m}.py" for m in ("rules", "release", "requests", "renewals")),
            "annex.py",
            "store/release_requests.py",
        )
    )
    return {
        "err.flag": set(
            re.findall(
                r'(?:FlagRuleError|ReleaseRequestError|RequestRefused|__init__)\(\s*"([a-z_]+)"',
                src,
            )
        ),
        "err.annex": set(re.findall(r'AnnexError\(\s*"([a-z_]+)"', src)),
    }


def test_every_key_the_console_uses_is_in_the_catalog() -> None:
    keys = used_keys()
    assert len(keys) > 150
    assert sorted(keys - MESSAGES.keys()) == []


def test_every_refusal_of_the_flag_rules_has_its_own_message() -> None:
    reasons = refusal_reasons()
    # the release requests' refusals at least, each of which the console answers in its own words
    assert {"same_person", "not_holder", "pending", "unknown", "decided", "superseded"} <= reasons[
        "err.flag"
    ]
    assert reasons["err.annex"] == {"department", "business_required", "business_unknown"}
    keys = {f"{family}.{code}" for family, codes in reasons.items() for code in codes}
    assert sorted(keys - MESSAGES.keys()) == []
    # and nothing in the catalog for a refusal that no longer exists
    families = tuple(f"{family}." for family in reasons)
    assert sorted(k for k in MESSAGES if k.startswith(families) and k not in keys) == []


def test_every_message_has_both_languages_with_the_same_parameters() -> None:
    for key, (ja, en) in MESSAGES.items():
        assert ja.strip() and en.strip(), key
        assert _fields(ja) == _fields(en), key
        assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", ja), f"{key}: not Japanese"


def test_every_event_kind_the_gateway_records_has_a_label() -> None:
    root = STAFF_DIR.parent
    kinds = set()
    for lua in (root / "store" / "lua").glob("*.lua"):
        kinds |= set(re.findall(r"emit(?:_stop)?\('([a-z_]+\.[a-z_]+)'", lua.read_text()))
    for py in root.rglob("*.py"):
        src = py.read_text()
        kinds |= set(re.findall(r'"kind": "([a-z_]+\.[a-z_]+)"', src))
        kinds |= set(re.findall(r'(?:append|emit)\(\s*"([a-z_]+\.[a-z_]+)"', src))
        kinds |= {f"security.{k}" for k in re.findall(r'\.security\(\s*"([a-z_]+)"', src)}
        kinds |= {f"security.{k}" for k in re.findall(r'_security\(\s*gw,\s*"([a-z_]+)"', src)}
        kinds |= {f"staff.{k}" for k in re.findall(r'"staff\.(user_[a-z]+|password_set)"', src)}
    kinds |= {"flag.set", "flag.release"}  # emit('flag.' .. action)
    kinds |= {"requester.granted", "requester.revoked"}  # emit('requester.' .. (grant|revoke))
    assert len(kinds) > 25
    assert sorted(k for k in kinds if f"kind.{k}" not in MESSAGES) == []


async def test_japanese_first_english_on_request(running: Running, staff: Staff) -> None:
    appr = await staff.client("approver")
    status, html = await appr.page("/staff/queue")
    assert '<html lang="ja">' in html and title_of(html).startswith("保留中の照会")
    status, headers, _ = await appr.request("GET", "/staff/lang/en?next=/staff/queue")
    assert (status, headers["Location"]) == (303, "/staff/queue")
    assert "hogo_lang=en" in headers["Set-Cookie"] and "HttpOnly" in headers["Set-Cookie"]
    status, html = await appr.page("/staff/queue")
    assert '<html lang="en">' in html and title_of(html).startswith("Held queries")
    assert "保留中の照会 0 件" not in html and "0 held queries" in html
    await appr.request("GET", "/staff/lang/ja?next=/staff/queue")
    assert '<html lang="ja">' in (await appr.page("/staff/queue"))[1]


async def test_the_language_switch_is_not_an_open_redirect(running: Running, staff: Staff) -> None:
    client = staff.anonymous()
    for target in ("https://evil.example/", "//evil.example/x", "/staff/\\evil", "/etc", ""):
        _, headers, _ = await client.request("GET", f"/staff/lang/en?next={target}")
        assert headers["Location"] == "/staff/", target
