"""The rules of each request kind (SPEC §1, §4): `table.RULES` lists, per kind, its account-level checks, its
submission checks, its guards per transition and its completion. tickets.services walks the table; the portal's
blockers run the same checks. Modules: `account` (account-level rules), `submission` (a request's details),
`guards` (transitions), `verification` (K7, S3, port-out authorization and the lockout), `objects` (one open
request per object, license minimums, numbers in flight), `context` (what a check reads)."""
