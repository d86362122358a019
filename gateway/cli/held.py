"""The operator's commands on the manual queue (`hogo-gateway held ...`), registered by
`gateway.cli`: every held query listed (all of them, or a page that says where it is), one shown
with its subject as the directory resolves it now, released with a handling notice on the facts
it prints (`--flagged-ok` for a flagged person the hold was not made for), or refused.

Exit status as everywhere: 0 success, 2 bad arguments, 1 failure with one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from gateway.cli.common import Command, CommandError, emit, one_line, os_actor
from gateway.context import Gateway
from gateway.model import HeldQuery, QueryState
from gateway.queue import QueueRefusal
from gateway.recheck import SubjectNow, needs_flag_confirmation

# The manual queue's refusals as the operator reads them (the console's are its catalogue's
# err.<code>); each says that nothing changed.
REFUSALS = {
    "not_held": "query {id} is no longer held ({detail})",
    "busy": "query {id} is being released by someone else",
    "facts_changed": "query {id}: the person or the flag changed since they were read; nothing "
    "released. Look again",
    "upstream": "the upstream could not answer; nothing changed ({detail})",
    "notice_required": "a release needs a handling notice (取扱注意)",
    "reason_required": "a refusal needs a reason",
}


def refusal_text(exc: QueueRefusal) -> str:
    return REFUSALS[exc.code].format(id=exc.query_id, detail=exc.detail)


def _held_line(h: HeldQuery, now: SubjectNow) -> str:
    waiting = h.state is QueryState.HELD
    mark = (
        "  FLAGGED NOW" if waiting and needs_flag_confirmation(h.reason, h.person_key, now) else ""
    )
    return (
        f"{h.id}  {h.state.value:<8}  held {h.held_at}  {h.requester_org_code}  "
        f"pn={h.processing_number}  {h.affair_code} {h.procedure_code} {h.item_code}  "
        f"reason={h.reason}{mark}"
    )


def _held_json(h: HeldQuery, now: SubjectNow) -> dict[str, object]:
    return {**h.as_json(), "subject_now": now.as_json(h.person_key, h.reason)}


async def cmd_held_list(args: argparse.Namespace, gw: Gateway) -> None:
    """Every held query (streamed a page at a time, however many), or with --limit one page of
    them: then the position and the next page's --after are said on standard error."""
    from gateway.errors import BadCursor

    as_json = getattr(args, "json", False)
    shown = 0

    def out(rows: list[HeldQuery], subjects: list[SubjectNow]) -> None:
        nonlocal shown
        for h, now in zip(rows, subjects, strict=True):
            if as_json:
                text = json.dumps(_held_json(h, now), ensure_ascii=False, indent=2)
                sys.stdout.write(("[\n" if not shown else ",\n") + _indent(text))
            else:
                print(_held_line(h, now))
            shown += 1

    if args.limit is not None or args.after:
        with one_line(BadCursor):
            page = await gw.queries.held_page(
                only_waiting=args.waiting, after=args.after or "", limit=args.limit or 100
            )
        out(page.items, await gw.queue.subjects_now(page.items))
        _close_list(as_json, shown)
        last = page.start + len(page.items)
        print(
            f"rows {page.start + 1 if page.items else 0}-{last} of {page.total}"
            + (f"; next page: --after {page.next}" if page.next else "; the last page"),
            file=sys.stderr,
        )
        return
    batch: list[HeldQuery] = []
    async for h in gw.queries.iter_held(only_waiting=args.waiting):
        batch.append(h)
        if len(batch) == 500:
            out(batch, await gw.queue.subjects_now(batch))
            batch = []
    out(batch, await gw.queue.subjects_now(batch))
    _close_list(as_json, shown)


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def _close_list(as_json: bool, shown: int) -> None:
    if as_json:
        print("[]" if not shown else "\n]")
    elif not shown:
        print("(no held queries)")


def _subject_text(h: HeldQuery, now: SubjectNow) -> str:
    """What the directory and the flags say now of a held query's subject (no name)."""
    onoff = {True: "ON", False: "off"}
    if not now.known:
        who = "not in the directory now"
    elif now.changed_since_hold(h.person_key):
        who = "known now, another person than when held" if h.person_key else "known now"
    else:
        who = "the same person as when held"
    lines = [f"subject now: {who}"]
    if now.flags is not None:
        lines += [
            f"  自動応答不可 auto_response_disabled: {onoff[now.flags.auto_response_disabled]}",
            f"  不開示該当 non_disclosure:          {onoff[now.flags.non_disclosure]}",
            f"  holding departments: {', '.join(now.departments) or '-'}  "
            f"(last change: {now.department} / {now.business}, version {now.version})",
        ]
    elif now.known:
        lines.append("  no flag record")
    if needs_flag_confirmation(h.reason, h.person_key, now):
        lines.append(f"  FLAGGED NOW, and not why it was held (reason={h.reason})")
    return "\n".join(lines)


async def cmd_held_show(args: argparse.Namespace, gw: Gateway) -> None:
    held = await gw.queries.get(args.id)
    if held is None:
        raise CommandError(f"no query {args.id}")
    now = await gw.queue.subject_now(held)
    emit(
        args,
        _held_json(held, now),
        "\n".join(f"{k}: {v}" for k, v in held.as_json().items()) + "\n" + _subject_text(held, now),
    )


async def cmd_held_release(args: argparse.Namespace, gw: Gateway) -> None:
    """Release at once (the operator's admin path), on the subject's facts as they are now, which
    it prints; a subject that now resolves to a flagged person the hold did not know of needs
    --flagged-ok. Nothing is released if the facts change before the release is made."""
    held = await gw.queries.get(args.id)
    if held is None:
        raise CommandError(f"no query {args.id}")
    now = await gw.queue.subject_now(held)
    facts = _subject_text(held, now)
    if needs_flag_confirmation(held.reason, held.person_key, now) and not args.flagged_ok:
        print(facts, file=sys.stderr)
        raise CommandError(
            f"query {args.id}: its subject now resolves to a flagged person (held as "
            f"{held.reason}); nothing released. Look at `held show {args.id}` and release with "
            "--flagged-ok if it is to go out"
        )
    with one_line(QueueRefusal, text=refusal_text):
        released = await gw.queue.release(args.id, args.notice, os_actor(), now.seen)
    emit(
        args,
        _held_json(released, now),
        f"{facts}\nquery {released.id} released with the handling notice",
    )


async def cmd_held_refuse(args: argparse.Namespace, gw: Gateway) -> None:
    with one_line(QueueRefusal, text=refusal_text):
        held = await gw.queue.refuse(args.id, args.reason, os_actor())
    emit(args, held.as_json(), f"query {held.id} refused")


# -- the parser -----------------------------------------------------------------------------------
def _page_size(raw: str) -> int:
    from gateway.model import MAX_PAGE

    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise argparse.ArgumentTypeError(f"a page holds 1 to {MAX_PAGE}")
    return int(raw)


def add_commands(sub: Any, cmd: Command) -> None:
    """Register `held` under the top-level subparsers `sub`; `cmd(parent, name, func, help)`
    makes one command with the common options."""
    hd = sub.add_parser("held", help="the manual queue").add_subparsers(
        dest="sub", required=True, metavar="ACTION"
    )
    p = cmd(hd, "list", cmd_held_list, "every held query, whatever its state")
    p.add_argument("--waiting", action="store_true", help="only those still waiting")
    p.add_argument(
        "--limit",
        type=_page_size,
        metavar="N",
        help="one page of N (1-1000) instead of all; the next page's --after goes to stderr",
    )
    p.add_argument(
        "--after", metavar="CURSOR", help="the page after CURSOR (of --limit, default 100)"
    )
    p = cmd(hd, "show", cmd_held_show, "one held query, and its subject as it resolves now")
    p.add_argument("id", metavar="ID")
    p = cmd(hd, "release", cmd_held_release, "release a held query with a handling notice")
    p.add_argument("id", metavar="ID")
    p.add_argument("--notice", required=True)
    p.add_argument(
        "--flagged-ok",
        action="store_true",
        help="release although its subject now resolves to a flagged person it was not held for",
    )
    p = cmd(hd, "refuse", cmd_held_refuse, "refuse a held query")
    p.add_argument("id", metavar="ID")
    p.add_argument("--reason", required=True)
