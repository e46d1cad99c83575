"""The rules of each request kind (SPEC §1, §4): each kind's spec (tickets/kinds/<kind>.py) names its
account-level checks, its submission checks, its guards per transition and its completion; `table.RULES` is
their view. tickets.services walks them; the portal's blockers run the same checks. Modules: `account`
(account-level rules), `submission` (a request's details), `guards` (transitions), `verification` (K7, S3,
port-out authorization and the lockout), `objects` (one open request per object, license minimums, numbers in
flight), `context` (what a check reads)."""
