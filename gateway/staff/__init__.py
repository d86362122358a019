"""The staff console (`/staff/`) and its JSON API (`/api/v1/`): registrars set flags, approvers
answer held queries one by one with the handling notice (取扱注意), auditors review blocked
attempts and security events, admins keep users and requesters.

`gateway.staff.routes.mount(app)` adds it to the gateway's application, with every route and its
rule.
"""
