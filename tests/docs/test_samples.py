"""Every fenced code block in the written docs is run by a test or copied from the code.

A block's info string says which (GitHub renders the first word as the language and ignores
the rest):

    ```sql                   run against the test database, inside a transaction rolled back
    ```sql autocommit        run statement by statement outside a transaction (VACUUM,
                             REINDEX CONCURRENTLY); the schema must be unchanged afterwards
    ```python path/to/file   copied verbatim from that file (up to a constant indent)
    ```python example NAME   run by the checker EXAMPLES[NAME] below
    ```text plan             EXPLAIN (ANALYZE) output pasted from a big database (printed by
                             bench/query_plans.py): every index it names must exist in the
                             schema, so a renamed or dropped index leaves no stale plan behind

Any other block fails the suite. The generated erd.md and schema.md have no samples
(tests/schemadocs/test_docs.py checks them).
"""

import re
import shlex
import textwrap
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection, transaction

from schemadocs import documents as docs

pytestmark = pytest.mark.django_db

ROOT = Path(settings.BASE_DIR)
GENERATED = {"erd.md", "schema.md"}
BLOCK = re.compile(r"^```(\S*)[ \t]*([^\n]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def blocks(mode: str | None = None) -> list[tuple[str, str, str, str]]:
    """(document, language, the rest of the info string, code) of every block in docs/*.md."""
    found = []
    for path in sorted(docs.DOCS_DIR.glob("*.md")):
        if path.name in GENERATED:
            continue
        for match in BLOCK.finditer(path.read_text()):
            found.append((path.name, *match.groups()))
    return [b for b in found if mode is None or classify(b) == mode]


def classify(block) -> str:
    _, language, rest, _ = block
    if language == "sql" and rest == "":
        return "rolled-back"
    if language == "sql" and rest == "autocommit":
        return "autocommit"
    if language == "python" and rest.startswith("example "):
        return "example"
    if language == "sh" and rest == "make":
        return "make"
    if language == "text" and rest == "plan":
        return "plan"
    if rest and (ROOT / rest).is_file():
        return "verbatim"
    return "unchecked"


def label(block) -> str:
    return f"{block[0]}: ```{block[1]} {block[2]} {block[3][:60]!r}"


def test_every_code_block_is_checked():
    found = blocks()

    assert [label(b) for b in found if classify(b) == "unchecked"] == []
    assert {classify(b) for b in found} == {
        "rolled-back",
        "autocommit",
        "verbatim",
        "example",
        "make",
        "plan",
    }


def test_make_blocks_name_real_targets_and_commands():
    """```sh make blocks: each line is `[VAR=value ...] make <target> [ARGS="<command> ..."]`,
    with a target the Makefile defines and, for `make manage`, a real management command."""
    from django.core.management import get_commands

    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][\w-]*):", makefile, flags=re.MULTILINE))
    wrong = []
    for block in blocks("make"):
        for line in block[3].splitlines():
            words = shlex.split(line, comments=True)
            while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
                words.pop(0)  # environment for the command
            if not words:
                continue
            target = words[1] if words[0] == "make" and len(words) > 1 else None
            args = dict(w.split("=", 1) for w in words[2:] if "=" in w)
            command = args.get("ARGS", "").split()[:1]
            if target not in targets or (target == "manage" and command[0] not in get_commands()):
                wrong.append(f"{block[0]}: {line}")
    assert wrong == []


PLAN_INDEX = re.compile(r"(?:Index (?:Only )?Scan(?: Backward)? using|Bitmap Index Scan on) (\w+)")


def plan_indexes(plan: str) -> set[str]:
    return set(PLAN_INDEX.findall(plan))


@pytest.mark.parametrize("block", blocks("plan"), ids=label)
def test_plan_is_explain_analyze_output_naming_real_indexes(block):
    plan = block[3]
    assert re.search(r"^Execution Time: [0-9.]+ ms$", plan, flags=re.MULTILINE), (
        "not EXPLAIN ANALYZE"
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")
        existing = {row[0] for row in cursor.fetchall()}
    assert plan_indexes(plan) - existing == set()


def test_the_plan_check_reads_index_names():
    plan = (
        "Limit\n  ->  Index Scan Backward using a_idx on t\n"
        "  ->  Bitmap Index Scan on b_idx\n  ->  Index Only Scan using c_idx on t"
    )
    assert plan_indexes(plan) == {"a_idx", "b_idx", "c_idx"}


def in_file(snippet: str, text: str) -> bool:
    """The snippet's lines appear consecutively in text, all shifted by the same indent."""
    want = textwrap.dedent(snippet).rstrip("\n").splitlines()
    lines = text.splitlines()
    for start in range(len(lines) - len(want) + 1):
        first = lines[start]
        indent = first[: len(first) - len(first.lstrip())]
        window = lines[start : start + len(want)]
        if all(
            (got == indent + line) or (line == "" and got.strip() == "")
            for got, line in zip(window, want, strict=True)
        ):
            return True
    return False


@pytest.mark.parametrize("block", blocks("verbatim"), ids=label)
def test_copied_code_is_verbatim_from_its_file(block):
    _, _, path, code = block

    assert in_file(code, (ROOT / path).read_text()), f"not found verbatim in {path}"


def test_the_verbatim_check_notices_an_edited_copy():
    text = "class A:\n    x = 1\n    y = 2\n"

    assert in_file("x = 1\ny = 2\n", text)
    assert not in_file("x = 1\ny = 3\n", text)
    assert not in_file("x = 1\n  y = 2\n", text)


@pytest.mark.parametrize("block", blocks("rolled-back"), ids=label)
def test_sql_sample_runs_against_the_schema(block):
    # Django's ClientCursor sends a statement without parameters as it is: a block may hold
    # several statements. The test's transaction is rolled back afterwards.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(block[3])


def statements(sql: str) -> list[str]:
    return [s.strip() for s in re.split(r";\s*$", sql, flags=re.MULTILINE) if s.strip()]


@pytest.mark.parametrize("block", blocks("autocommit"), ids=label)
def test_maintenance_sample_runs_outside_a_transaction_and_changes_no_schema(block):
    params = connection.settings_dict
    with connection.cursor() as cursor:
        before = docs.catalog_docs(cursor)

    with psycopg.connect(
        host=params["HOST"],
        port=params["PORT"] or 5432,
        user=params["USER"],
        password=params["PASSWORD"] or None,
        dbname=params["NAME"],
        autocommit=True,
    ) as conn:
        for statement in statements(block[3]):
            conn.execute(statement)

    with connection.cursor() as cursor:
        assert docs.catalog_docs(cursor) == before


# --------------------------------------------------------------------------- examples


def example(name: str) -> dict:
    """Run the `python example NAME` block and return the names it defined."""
    (block,) = [b for b in blocks("example") if b[2] == f"example {name}"]
    namespace: dict = {}
    exec(compile(block[3], f"docs/{block[0]}:{name}", "exec"), namespace)  # noqa: S102
    return namespace


def check_lsn_position():
    from core import routing

    lsn = example("lsn_position")["lsn"]
    assert lsn("16/B374D848") == 0x16_B374_D848 == routing.lsn("16/B374D848")
    assert lsn("16/B374D848") - lsn("15/FFFFFFFF") == 0xB374_D849  # across the 4 GiB mark
    assert lsn("0/0") == routing.lsn("0/0") == 0


EXAMPLES = {"lsn_position": check_lsn_position}


def test_every_example_has_a_checker():
    names = sorted(b[2].removeprefix("example ") for b in blocks("example"))

    assert names == sorted(EXAMPLES)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_behaves_as_the_doc_says(name):
    EXAMPLES[name]()
