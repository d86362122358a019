"""The staff console (`/staff/`) and its JSON API (`/api/v1/`): registrars set flags, approvers
answer held queries one by one with the handling notice (取扱注意), auditors review blocked
attempts and security events, admins keep users and requesters.

`mount(app)` adds it to the gateway's application; see routes.py for every route and its rule.
"""

from __future__ import annotations

from aiohttp import web


def mount(app: web.Application) -> None:
    """Add the console to `app`, after the entry of its cleanup_ctx that opens the gateway."""
    from gateway.staff.console import console_context
    from gateway.staff.routes import add_console_routes

    app.cleanup_ctx.append(console_context)
    add_console_routes(app)
