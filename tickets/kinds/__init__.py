"""Request kinds, one module each: `tickets/kinds/<kind>.py` declares everything about its kind in one
`KindSpec` (tickets/kinds/spec.py): its rules and guards, its completion, its portal form and template, its API
serializer, the desk's fields and one-line summary, which object it names, whom it applies to, its route, and
what the purge and the account export do with it. `registry` holds them; README, "Adding a kind", walks one
through.

This package's __init__ imports nothing, so asking the registry (`tickets.kinds.registry`) never loads a kind
module before its own imports are ready.
"""
