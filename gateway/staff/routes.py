"""Every route of the console and its API, with who may use it: the access table in one place.

`/api/v1/flags...` is not here: it is the departments' flag API (the flags issue), with its own
per-department tokens. The registrars' API uses other paths (`/api/v1/flag-records`, ...).
"""

from __future__ import annotations

from aiohttp import web

from gateway.services.accounts import ROLES
from gateway.services.console import console_context
from gateway.staff import (
    api,
    api_attempts,
    api_flags,
    api_reviews,
    pages_admin,
    pages_attempts,
    pages_audit,
    pages_auth,
    pages_flags,
    pages_patterns,
    pages_queue,
    pages_reviews,
)
from gateway.staff.access import PUBLIC, add_route

ANY_ROLE = frozenset(ROLES)
REGISTRAR = frozenset({"registrar"})
APPROVER = frozenset({"approver"})
AUDITOR = frozenset({"auditor"})
ADMIN = frozenset({"admin"})


def mount(app: web.Application) -> None:
    """Add the console to `app`, after the entry of its cleanup_ctx that opens the gateway."""
    app.cleanup_ctx.append(console_context)
    add_console_routes(app)


def add_console_routes(app: web.Application) -> None:
    def page(method: str, path: str, handler, roles: frozenset[str]) -> None:  # type: ignore[no-untyped-def]
        add_route(app, method, path, handler, roles)

    def api_(method: str, path: str, handler, roles: frozenset[str]) -> None:  # type: ignore[no-untyped-def]
        add_route(app, method, path, handler, roles, api=True)

    # entry
    page("GET", "/staff/", pages_auth.home, ANY_ROLE)
    page("GET", "/staff/login", pages_auth.login_form, PUBLIC)
    page("POST", "/staff/login", pages_auth.login_submit, PUBLIC)
    page("POST", "/staff/logout", pages_auth.logout, ANY_ROLE)
    page("GET", "/staff/lang/{lang}", pages_auth.switch_language, PUBLIC)
    page("GET", "/staff/static/{name}", pages_auth.static_file, PUBLIC)
    # approvers: the manual queue
    page("GET", "/staff/queue", pages_queue.queue_page, APPROVER)
    page("GET", "/staff/queue/{id}", pages_queue.item_page, APPROVER)
    page("POST", "/staff/queue/{id}/claim", pages_queue.claim, APPROVER)
    page("POST", "/staff/queue/{id}/unclaim", pages_queue.unclaim, APPROVER)
    page("POST", "/staff/queue/{id}/release", pages_queue.release, APPROVER)
    page("POST", "/staff/queue/{id}/confirm", pages_queue.confirm, APPROVER)
    page("POST", "/staff/queue/{id}/withdraw", pages_queue.withdraw, APPROVER)
    page("POST", "/staff/queue/{id}/refuse", pages_queue.refuse, APPROVER)
    # approvers: subjects and persons held for review (the directory's remaps)
    page("GET", "/staff/reviews", pages_reviews.reviews_page, APPROVER)
    page("POST", "/staff/reviews/{id}/confirm", pages_reviews.confirm, APPROVER)
    # registrars: flags of their own department
    page("GET", "/staff/flags", pages_flags.flags_page, REGISTRAR)
    page("POST", "/staff/flags/register", pages_flags.register, REGISTRAR)
    page("POST", "/staff/flags/release-request", pages_flags.request_release, REGISTRAR)
    page("POST", "/staff/flags/release-confirm", pages_flags.confirm_release, REGISTRAR)
    page("POST", "/staff/flags/release-cancel", pages_flags.cancel_release, REGISTRAR)
    page("GET", "/staff/flags/due", pages_flags.due_page, REGISTRAR)
    # registrars: their department's attempts (試行)
    page("GET", "/staff/attempts", pages_attempts.attempts_page, REGISTRAR)
    page("GET", "/staff/attempts/{id}", pages_attempts.attempt_page, REGISTRAR)
    page("POST", "/staff/attempts/{id}/acknowledge", pages_attempts.acknowledge, REGISTRAR)
    # auditors: blocked attempts and security events
    page("GET", "/staff/audit", pages_audit.audit_page, AUDITOR)
    page("POST", "/staff/audit/{event_id}/review", pages_audit.review, AUDITOR)
    page("GET", "/staff/audit/export.csv", pages_audit.export_csv, AUDITOR)
    page("GET", "/staff/audit/patterns", pages_patterns.patterns_page, AUDITOR)
    # admins: users and requesters
    page("GET", "/staff/admin/users", pages_admin.users_page, ADMIN)
    page("POST", "/staff/admin/users", pages_admin.add_user, ADMIN)
    page("POST", "/staff/admin/users/{login}/disable", pages_admin.disable_user, ADMIN)
    page("POST", "/staff/admin/users/{login}/enable", pages_admin.enable_user, ADMIN)
    page("POST", "/staff/admin/users/{login}/unlock", pages_admin.unlock_user, ADMIN)
    page("POST", "/staff/admin/users/{login}/password", pages_admin.set_password, ADMIN)
    page("POST", "/staff/admin/users/{login}/role", pages_admin.change_role, ADMIN)
    page("GET", "/staff/admin/requesters", pages_admin.requesters_page, ADMIN)
    page("POST", "/staff/admin/requesters", pages_admin.add_requester, ADMIN)
    page("POST", "/staff/admin/requesters/{org_code}/remove", pages_admin.remove_requester, ADMIN)

    # the JSON API
    api_("GET", "/api/v1/session", api.session_get, PUBLIC)
    api_("POST", "/api/v1/session", api.session_create, PUBLIC)
    api_("DELETE", "/api/v1/session", api.session_delete, ANY_ROLE)
    api_("GET", "/api/v1/held", api.held_list, APPROVER)
    api_("GET", "/api/v1/held/{id}", api.held_get, APPROVER)
    api_("POST", "/api/v1/held/{id}/claim", api.held_claim, APPROVER)
    api_("DELETE", "/api/v1/held/{id}/claim", api.held_unclaim, APPROVER)
    api_("POST", "/api/v1/held/{id}/release", api.held_release, APPROVER)
    api_("POST", "/api/v1/held/{id}/confirm", api.held_confirm, APPROVER)
    api_("POST", "/api/v1/held/{id}/withdraw", api.held_withdraw, APPROVER)
    api_("POST", "/api/v1/held/{id}/refuse", api.held_refuse, APPROVER)
    api_("GET", "/api/v1/reviews", api_reviews.reviews_list, APPROVER)
    api_("POST", "/api/v1/reviews/{id}/confirm", api_reviews.review_confirm, APPROVER)
    # registrars: flags of their own department (not /api/v1/flags: the departments' token API)
    api_("POST", "/api/v1/flag-records", api_flags.register, REGISTRAR)
    api_("POST", "/api/v1/flag-records/lookup", api_flags.lookup, REGISTRAR)
    api_("GET", "/api/v1/release-requests", api_flags.pending, REGISTRAR)
    api_("POST", "/api/v1/release-requests", api_flags.request_release, REGISTRAR)
    api_("POST", "/api/v1/release-requests/{id}/confirm", api_flags.confirm_release, REGISTRAR)
    api_("POST", "/api/v1/release-requests/{id}/cancel", api_flags.cancel_release, REGISTRAR)
    api_("GET", "/api/v1/renewals", api_flags.renewals, REGISTRAR)
    api_("GET", "/api/v1/attempts", api_attempts.attempts_list, REGISTRAR)
    api_("GET", "/api/v1/attempts/{id}", api_attempts.attempt_get, REGISTRAR)
    api_("POST", "/api/v1/attempts/{id}/acknowledge", api_attempts.attempt_acknowledge, REGISTRAR)
    api_("GET", "/api/v1/events", api.events_list, AUDITOR)
    api_("POST", "/api/v1/events/{event_id}/review", api.event_review, AUDITOR)
    api_("GET", "/api/v1/users", api.users_list, ADMIN)
    api_("POST", "/api/v1/users", api.user_create, ADMIN)
    api_("PATCH", "/api/v1/users/{login}", api.user_update, ADMIN)
    api_("GET", "/api/v1/requesters", api.requesters_list, ADMIN)
    api_("POST", "/api/v1/requesters", api.requester_create, ADMIN)
    api_("DELETE", "/api/v1/requesters/{org_code}", api.requester_delete, ADMIN)
