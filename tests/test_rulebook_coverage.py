"""Every rule of the rulebook (SPEC §1: K1–K11, A1–A11, U1–U10, S1–S11) is cited by at least one test
(`# rule K7` inside the test), so a rule whose last test is removed or renamed away fails here, by name."""

import re
from pathlib import Path

RULEBOOK = (
    [f"K{n}" for n in range(1, 12)]
    + [f"A{n}" for n in range(1, 12)]
    + [f"U{n}" for n in range(1, 11)]
    + [f"S{n}" for n in range(1, 12)]
)
TESTS = Path(__file__).resolve().parent


def cited_rules() -> dict[str, list[str]]:
    """Rule id → the tests whose body cites it in a `# rule ...` comment."""
    cited: dict[str, list[str]] = {}
    for path in sorted(TESTS.rglob("test_*.py")):
        test = None
        for line in path.read_text().splitlines():
            defined = re.match(r"\s*def (test_\w+)", line)
            if defined:
                test = f"{path.relative_to(TESTS)}::{defined.group(1)}"
            elif test and re.match(r"\s*# rules? ", line):
                for rule in re.findall(r"\b([KAUS]\d{1,2})\b", line):
                    cited.setdefault(rule, []).append(test)
    return cited


def test_every_rule_of_the_rulebook_has_a_test_that_cites_it():
    cited = cited_rules()
    assert len(RULEBOOK) == 43
    assert [rule for rule in RULEBOOK if not cited.get(rule)] == []


def test_no_test_cites_a_rule_the_rulebook_does_not_have():
    assert sorted(set(cited_rules()) - set(RULEBOOK)) == []
