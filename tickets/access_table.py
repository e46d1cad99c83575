"""The access table of SPEC §5, as data: role × object × action → allowed. It documents tickets/access.py (the
README's Security section shows `as_markdown()`, and a test keeps the two equal), and tests/access/test_matrix.py
runs every row against the portal, the API, the admin and the queues, and fails where any of them answers
otherwise.

The cast is the fixed one of STYLE.md on a Kixie account: the owner, a super admin, a billing admin, a plain member,
a member of another account (outsider), a former member (a super admin of "the cancelled account" alone, signed in
through the sign-in form as SPEC §4's "Account lifecycle" lets them), an agent, the account manager of another
account (an agent; "the routed case" is that account's AVOXI Jetpack cancellation, routed to them and verified, A11),
a manager, and a member of staff in no group. "The owner's case"
is a port-out the owner asked for, with a public and a private comment, a file and a staff-only file, and a staff note
in its history; "the
member's case" one the plain member asked for; "the cancelled account" one the owner also belongs to, cancelled.
"""

from dataclasses import dataclass

ROLES = [
    "owner",
    "super_admin",
    "billing_admin",
    "member",
    "outsider",
    "former_member",
    "agent",
    "account_manager",
    "manager",
    "no_group",
]
ACCOUNT_ROLES = frozenset({"owner", "super_admin", "billing_admin", "member"})
ACCOUNT_WIDE = frozenset({"owner", "super_admin", "billing_admin"})
STAFF = frozenset({"agent", "account_manager", "manager"})
# SPEC §4: the members of a cancelled, not purged, account; the owner owns "the cancelled account" too.
FORMER = frozenset({"owner", "former_member"})


@dataclass(frozen=True)
class Rule:
    object: str
    action: str
    allowed: frozenset[str]
    why: str = ""

    def expects(self, role: str) -> bool:
        return role in self.allowed


TABLE: list[Rule] = [
    Rule("account", "read", ACCOUNT_ROLES | STAFF, "members of an active account; staff"),
    Rule("cancelled account", "read", STAFF, "K8, U5: gone from the customer side; its owner keeps their other one"),
    Rule("member's case", "read", ACCOUNT_ROLES | STAFF, "the member asked for it"),
    Rule("owner's case", "read", ACCOUNT_WIDE | STAFF, "a plain member sees only the cases they asked for"),
    Rule("owner's case", "comment", ACCOUNT_WIDE | STAFF),
    Rule("owner's case", "withdraw", frozenset({"owner"}), "the requester or the account owner"),
    Rule("owner's case", "verify", STAFF),
    Rule("owner's case", "reject", STAFF),
    Rule("verified case", "approve", frozenset({"manager"})),
    Rule("routed case", "approve", frozenset({"account_manager", "manager"}), "U3, A11: the route's account manager"),
    Rule("former-member page", "read", FORMER, "its dates and rule only: no case, page or API of the account"),
    Rule("cancelled account", "ask reactivation", FORMER, "K9, U7: where the policy's roles allow; staff record one"),
    Rule("owner's case attachment", "download", ACCOUNT_WIDE | STAFF, "served only to who sees the case"),
    Rule("private comment", "read", STAFF),
    Rule("staff-only attachment", "download", STAFF, "an unverified sender's email's, an internal note's"),
    Rule("check results", "read", STAFF, "which of PIN and name matched"),
    Rule("staff note", "read", STAFF, "notes on transitions; customers read the rejection reason"),
    Rule("staff email", "read", STAFF, 'customers read "Support"'),
    Rule("case priority", "write", STAFF, "read-only for customers, in the API schema too"),
    Rule("unassigned case", "claim", STAFF),
    Rule("agent's case", "reassign", frozenset({"manager"}), "every assignment is logged"),
    Rule("account", "provision", frozenset({"manager"}), "accounts.add_account"),
    Rule("numbers", "read", ACCOUNT_ROLES | STAFF),
    Rule("numbers", "provision", frozenset({"manager"}), "numbers.add_phonenumber"),
    Rule("members", "provision", frozenset({"manager"}), "accounts.add_membership"),
    Rule("invoices", "read", ACCOUNT_WIDE | STAFF, "U1: access billing & account info"),
    Rule("card", "read", ACCOUNT_WIDE | STAFF, "U1"),
    Rule("card", "write", frozenset({"manager"}), "billing.change_cardonfile, which agents do not hold"),
    Rule("queue", "export", STAFF, "the CSV holds the rows of the queue the person sees"),
    Rule("account data", "export", ACCOUNT_WIDE, "SPEC §6: the archive before cancelling; staff use the admin"),
]

_HEADINGS = {
    "owner": "owner",
    "super_admin": "super admin",
    "billing_admin": "billing admin",
    "member": "member",
    "outsider": "other account",
    "former_member": "former member",
    "agent": "agent",
    "account_manager": "account manager",
    "manager": "manager",
    "no_group": "staff, no group",
}


def as_markdown() -> str:
    """The table as the README shows it."""
    lines = [
        "| object | action | " + " | ".join(_HEADINGS[role] for role in ROLES) + " | why |",
        "| --- | --- | " + " | ".join("---" for _ in ROLES) + " | --- |",
    ]
    for rule in TABLE:
        cells = ["yes" if rule.expects(role) else "—" for role in ROLES]
        lines.append(f"| {rule.object} | {rule.action} | " + " | ".join(cells) + f" | {rule.why} |")
    return "\n".join(lines) + "\n"
