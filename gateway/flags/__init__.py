"""The rules for setting and releasing flags, shared by the command line, the console and the API.

Each holding department of annex 1 (保有課) holds its own flags on a person: setting adds or
updates that department's hold (one of its registered businesses, a basis 申出 application / 職権
ex-officio, the support measure's end `until` if known, the name as it registered it), and never
changes or shows another department's. A person is protected while any department's hold says so.
Releasing removes one department's hold only: on the person's application (申出), never
automatically, not when `until` passes either. In the console and the API a release takes two
people of the department (one asks, another confirms); the operator's command line on the server
is the one immediate, audited admin path, naming the department where several hold flags.
Releasing leaves held queries held. The renewal list (`due`) warns before a support measure ends,
each department of its own holds.

One module a concern: rules.py (setting, and the checks all share), release.py (the operator's
immediate release), requests.py (the two-person release), renewals.py (the renewal list). This
package names what the others use.
"""

from __future__ import annotations

from gateway.flags.release import (
    release_flags as release_flags,
)
from gateway.flags.renewals import (
    DueItem as DueItem,
)
from gateway.flags.renewals import (
    due as due,
)
from gateway.flags.renewals import (
    read_due as read_due,
)
from gateway.flags.requests import (
    ReleaseRequest as ReleaseRequest,
)
from gateway.flags.requests import (
    cancel_release as cancel_release,
)
from gateway.flags.requests import (
    confirm_release as confirm_release,
)
from gateway.flags.requests import (
    pending_releases as pending_releases,
)
from gateway.flags.requests import (
    release_request as release_request,
)
from gateway.flags.requests import (
    request_release as request_release,
)
from gateway.flags.rules import (
    ATENA_NUMBER as ATENA_NUMBER,
)
from gateway.flags.rules import (
    JST as JST,
)
from gateway.flags.rules import (
    MAX_NAME as MAX_NAME,
)
from gateway.flags.rules import (
    MAX_NOTE as MAX_NOTE,
)
from gateway.flags.rules import (
    MAX_WINDOW_DAYS as MAX_WINDOW_DAYS,
)
from gateway.flags.rules import (
    RENEWAL_WINDOW_DAYS as RENEWAL_WINDOW_DAYS,
)
from gateway.flags.rules import (
    FlagRuleError as FlagRuleError,
)
from gateway.flags.rules import (
    ReleaseRequestError as ReleaseRequestError,
)
from gateway.flags.rules import (
    SamePersonError as SamePersonError,
)
from gateway.flags.rules import (
    check_atena_number as check_atena_number,
)
from gateway.flags.rules import (
    parse_date as parse_date,
)
from gateway.flags.rules import (
    read_record as read_record,
)
from gateway.flags.rules import (
    repair_aggregate as repair_aggregate,
)
from gateway.flags.rules import (
    set_change as set_change,
)
from gateway.flags.rules import (
    set_flags as set_flags,
)
from gateway.flags.rules import (
    set_own_flags as set_own_flags,
)
from gateway.flags.rules import (
    upgrade_records as upgrade_records,
)
