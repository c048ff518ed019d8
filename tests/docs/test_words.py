"""User-facing text speaks of the product: no internal issue number in the README, the docs,
the templates or the messages of the code (issue trackers are for the people building it)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# "issue 5", "issue #12", "Issues 3"; a bare "#1234" is how staff search for an order.
ISSUE_NUMBER = re.compile(r"\bissues? *#? *\d+", re.IGNORECASE)
USER_FACING = ["README.md", "docs/**/*.md", "**/templates/**/*.html", "docs/openapi.yaml"]
CODE = ["core", "shop", "audit", "dbhealth", "schemadocs", "config", "scripts", "bench", "tests"]


def issue_numbers(text: str) -> list[str]:
    return [match[0] for match in ISSUE_NUMBER.finditer(text)]


def test_no_issue_number_in_user_facing_text_or_the_code():
    paths = {p for pattern in USER_FACING for p in ROOT.glob(pattern) if ".venv" not in p.parts}
    paths |= {p for app in CODE for p in (ROOT / app).rglob("*.py")} - {Path(__file__)}
    assert len(paths) > 100  # the globs found the tree

    found = {
        str(path.relative_to(ROOT)): numbers
        for path in sorted(paths)
        if (numbers := issue_numbers(path.read_text()))
    }

    assert found == {}


def test_the_check_finds_each_way_of_writing_one():
    text = "fixed in issue 5; see issue #12 and Issues 3 (not 'tissue 9', nor order #40)"

    assert issue_numbers(text) == ["issue 5", "issue #12", "Issues 3"]
