"""The auditors' pictures (傾向): the numbers of gateway.services.patterns drawn as SVG bar charts
(gateway.charts) on the server, each with its numbers in a table beside it."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from gateway.attempts import AttemptKind
from gateway.charts import BarChart, Series, bars, hbars
from gateway.services.console import console
from gateway.services.patterns import AGE_BUCKETS, RULE_DAYS, WINDOW_DAYS, Pictures
from gateway.staff.i18n import Translator, lang_of
from gateway.staff.render import page

REFRESH_SECONDS = 3
# a colour per attempt kind, the same on every chart that shows it
FILLS = {
    AttemptKind.QUERY_HELD: "#1f5f8b",
    AttemptKind.PORTAL_BLOCKED: "#c0392b",
    AttemptKind.ANSWER_WITHHELD: "#d68910",
    AttemptKind.REMAP_REFUSED: "#6c3483",
    AttemptKind.READ_REFUSED: "#117a65",
}


def charts(p: Pictures, t: Translator) -> dict[str, BarChart]:
    unit = t("patterns.unit")
    sep = "、" if t.lang == "ja" else ", "  # between the parts of a chart's text alternative
    kinds = list(AttemptKind)
    totals = {k: sum(p.attempts[k]) for k in kinds}
    attempts = BarChart(
        name="attempts",
        title=t("patterns.attempts_title", days=str(WINDOW_DAYS)),
        desc=t(
            "patterns.attempts_desc",
            first=p.days[0].isoformat(),
            last=p.days[-1].isoformat(),
            n=str(sum(totals.values())),
            parts=sep.join(f"{t('attempt.' + k)} {totals[k]}" for k in kinds),
        ),
        categories=[d.isoformat() for d in p.days],
        # a label a week (Mondays), and today (instead of a Monday too close to it to read)
        labels=[
            f"{d.month}/{d.day}"
            if d == p.days[-1] or (d.weekday() == 0 and (p.days[-1] - d).days >= 3)
            else ""
            for d in p.days
        ],
        series=[Series(k.value, t("attempt." + k), p.attempts[k], FILLS[k]) for k in kinds],
        unit=unit,
    )
    requesters = BarChart(
        name="requesters",
        title=t("patterns.requesters_title", days=str(WINDOW_DAYS)),
        desc=t(
            "patterns.requesters_desc",
            n=str(len(p.requesters)),
            top=sep.join(f"{r.name or r.org} {r.holds}" for r in p.requesters[:3]) or "—",
        ),
        categories=[r.org for r in p.requesters],
        labels=[f"{r.name or t('queue.unknown_requester')} ({r.org})" for r in p.requesters],
        series=[
            Series("attempts", t("patterns.holds_attempts"), [r.attempts for r in p.requesters]),
            Series(
                "other",
                t("patterns.holds_other"),
                [r.holds - r.attempts for r in p.requesters],
                "#95a5a6",
            ),
        ],
        unit=unit,
    )
    ages = BarChart(
        name="ages",
        title=t("patterns.ages_title"),
        desc=t(
            "patterns.ages_desc",
            n=str(sum(p.held_ages)),
            parts=sep.join(
                f"{t('patterns.age_' + b.key)} {n}"
                for b, n in zip(AGE_BUCKETS, p.held_ages, strict=True)
            ),
        ),
        categories=[b.key for b in AGE_BUCKETS],
        labels=[t("patterns.age_" + b.key) for b in AGE_BUCKETS],
        series=[Series("waiting", t("patterns.waiting"), p.held_ages, "#d68910")],
        unit=unit,
    )
    weeks = BarChart(
        name="weeks",
        title=t("patterns.weeks_title", n=str(len(p.weeks))),
        desc=t(
            "patterns.weeks_desc",
            released=str(sum(p.released)),
            refused=str(sum(p.refused)),
            first=p.weeks[0].isoformat(),
        ),
        categories=[w.isoformat() for w in p.weeks],
        labels=[f"{w.month}/{w.day}" for w in p.weeks],
        series=[
            Series("released", t("patterns.released"), p.released, "#1e8449"),
            Series("refused", t("patterns.refused"), p.refused, "#a4262c"),
        ],
        unit=unit,
    )
    return {"attempts": attempts, "requesters": requesters, "ages": ages, "weeks": weeks}


async def patterns_page(request: web.Request) -> web.Response:
    c = console(request)
    p = await c.patterns.pictures()
    found = charts(p, Translator(lang_of(request)))
    rules = c.gw.settings.attempts
    resp = page(
        request,
        "audit_patterns.html",
        "title.patterns",
        p=p,
        rule_days=RULE_DAYS,
        rule_since=(p.today - timedelta(days=RULE_DAYS - 1)).isoformat(),
        rule_params={
            "n": str(rules.rule_requesters_per_person),
            "days": str(rules.rule_requesters_days),
            "rate_days": str(rules.rule_rate_days),
            "k": f"{rules.rule_rate_k:g}",
            "floor": str(rules.rule_rate_floor),
            "views": str(rules.rule_portal_views),
            "probes": str(rules.rule_probing),
        },
        kinds=list(AttemptKind),
        buckets=AGE_BUCKETS,
        charts=found,
        svg={
            "attempts": bars(found["attempts"], width=1000, height=280),
            "requesters": hbars(found["requesters"]),
            "ages": bars(found["ages"], width=460),
            "weeks": bars(found["weeks"], width=560),
        },
    )
    if not p.complete:
        # still counting the window (the first view ever): the browser asks again by itself
        resp.headers["Refresh"] = str(REFRESH_SECONDS)
    return resp
