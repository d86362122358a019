"""Server-rendered pages: one jinja2 environment (autoescaped), the page frame's context
(language, user, CSRF token, navigation, the flash message), and the display of times and ages.
Every date and time a page shows goes through the filter `ward_date` (gateway.wareki): the era
beside ISO 8601, in Japan's time.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import jinja2
from aiohttp import web

from gateway.model import Session
from gateway.staff.i18n import Translator, lang_of
from gateway.wareki import ward_date

# The request's session, looked up once (aiohttp >= 3.12 has typed request keys).
SESSION_KEY: Any = (
    web.RequestKey("hogo_staff_session", object)
    if hasattr(web, "RequestKey")
    else "hogo.staff.session"
)
# What the page frame shows besides the page (Console.frame), looked up before a page is made.
FRAME_KEY: Any = (
    web.RequestKey("hogo_staff_frame", dict) if hasattr(web, "RequestKey") else "hogo.staff.frame"
)


_env = jinja2.Environment(
    loader=jinja2.PackageLoader("gateway.staff", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["ward_date"] = ward_date

# What each role sees in the navigation: (path, message key).
NAV: dict[str, list[tuple[str, str]]] = {
    "registrar": [
        ("/staff/flags", "nav.flags"),
        ("/staff/flags/due", "nav.due"),
        ("/staff/attempts", "nav.attempts"),
    ],
    "approver": [("/staff/queue", "nav.queue"), ("/staff/reviews", "nav.reviews")],
    "auditor": [("/staff/audit", "nav.audit"), ("/staff/audit/patterns", "nav.patterns")],
    "admin": [("/staff/admin/users", "nav.users"), ("/staff/admin/requesters", "nav.requesters")],
}
HOME = {role: items[0][0] for role, items in NAV.items()}


def age_text(seconds: int, t: Translator) -> str:
    days, rest = divmod(max(0, int(seconds)), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return t("age.days_hours", d=str(days), h=str(hours))
    if hours:
        return t("age.hours_minutes", h=str(hours), m=str(minutes))
    if minutes:
        return t("age.minutes", m=str(minutes))
    return t("age.seconds", s=str(rest))


def page(
    request: web.Request,
    template: str,
    title: str,
    *,
    status: int = 200,
    error: tuple[str, dict[str, str]] | None = None,
    **ctx: Any,
) -> web.Response:
    """Render a console page. `title` is a message key: titles never hold personal data."""
    t = Translator(lang_of(request))
    session = request.get(SESSION_KEY)
    session = session if isinstance(session, Session) else None
    flash = None
    if session is not None and session.flash:
        level, key, params = session.flash
        flash = {"level": level, "text": t(key, **params)}
    if error is not None:
        flash = {"level": "error", "text": t(error[0], **error[1])}
    html = _env.get_template(template).render(
        _=t,
        lang=t.lang,
        title=t(title),
        session=session,
        csrf=session.csrf if session else "",
        nav=NAV.get(session.role, []) if session else [],
        frame=request.get(FRAME_KEY) or {},
        here=quote(request.path),
        path=request.path,
        flash=flash,
        # for a template that still calls jst(value): the same text as `value|ward_date(plain=True)`
        jst=lambda value: ward_date(value, plain=True),
        age=lambda s: age_text(s, t),
        **ctx,
    )
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


def error_page(request: web.Request, key: str, status: int, **params: str) -> web.Response:
    return page(request, "error.html", "title.error", status=status, message=(key, params))


def refused_page(request: web.Request, refusal: Any) -> web.Response:
    """A service's refusal (`code`, a catalog key without `err.`; `status`; `params`) as the
    console's error page."""
    return error_page(request, f"err.{refusal.code}", refusal.status, **refusal.params)
