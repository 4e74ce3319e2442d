"""The Python examples of the user guide run, and show what the pages say they show.

The blocks of docs/getting-started.md, docs/embedding.md and README.md's first
embedding example run in order, each page in one namespace, statement by statement.
Where a page says what a statement gives, the test holds it to that:

- an expression followed by a comment holding a Python literal (on its line or on
  the comment lines right after it) must equal it; a text ending in ``...`` is a
  prefix; a comment that is not a literal (``# e.g. ...``, ``# now + 1 h``) is prose;
- a statement that prints, followed by comment lines, must print exactly those lines.

The blocks of docs/testing.md are pytest test modules: they run in a subprocess under
the installed ``omnimsg`` plugin, in a folder whose ``pytest.ini`` is the page's own.

A block a page means as a fragment is marked with ``<!-- not run -->`` on the line
right before its fence. Files are written under ``tmp_path`` only.
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from omnimsg import ChannelIdentity, Contact
from omnimsg.policy.optin import SendOptOutConfirmation
from omnimsg.testing import RecordingTransport

ROOT = Path(__file__).resolve().parents[1]
NOT_RUN = "<!-- not run -->"
FENCE = re.compile(r"^```(?P<lang>[\w-]*)\n(?P<code>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def fenced(page: Path, lang: str) -> list[tuple[int, str]]:
    """``(first line of code, code)`` of each ``lang`` block of ``page`` that is run."""
    text = page.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        if match.group("lang") != lang:
            continue
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        if before.strip() == NOT_RUN:
            continue
        found.append((text.count("\n", 0, match.start()) + 2, match.group("code")))
    return found


def leading_literal(comment: str) -> tuple[bool, Any]:
    """The longest start of ``comment`` that is a Python literal, if any."""
    for end in range(len(comment), 0, -1):
        try:
            return True, ast.literal_eval(comment[:end].strip())
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
    return False, None


def comments_after(lines: list[str], statement: ast.stmt) -> tuple[str, list[str]]:
    """The comment on ``statement``'s last line, and the comment lines right after it."""
    last = statement.end_lineno or statement.lineno
    same_line = ""
    tail = lines[last - 1]
    code_part, hash_mark, comment = tail.partition("#")
    if hash_mark and code_part.count('"') % 2 == 0 and code_part.count("'") % 2 == 0:
        same_line = comment.strip()
    following = []
    for line in lines[last:]:
        if not line.lstrip().startswith("#"):
            break
        following.append(line.strip()[1:].strip())
    return same_line, following


def matches(expected: Any, actual: Any) -> bool:
    if isinstance(expected, str) and expected.endswith(("...", "…")):
        return isinstance(actual, str) and actual.startswith(expected.rstrip(".…").rstrip())
    return bool(expected == actual)


def run_block(
    code: str, where: str, namespace: dict[str, Any], printed: list[str] | None = None
) -> int:
    """Run ``code`` in ``namespace``, checking what its comments say; the checks made.

    What the statements print is added to ``printed``.
    """
    lines = code.splitlines()
    checked = 0
    for statement in ast.parse(code, filename=where).body:
        at = f"{where}+{statement.lineno - 1}"
        same_line, following = comments_after(lines, statement)
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            if isinstance(statement, ast.Expr):
                source = ast.Expression(statement.value)
                value = eval(compile(source, at, "eval"), namespace)
            else:
                exec(compile(ast.Module([statement], []), at, "exec"), namespace)
                value = None
        lines_out = output.getvalue().splitlines()
        if printed is not None:
            printed.extend(lines_out)
        if lines_out and following:
            assert lines_out == following, f"{at}: printed {lines_out}, the page says {following}"
            checked += 1
        elif isinstance(statement, ast.Expr):
            found, expected = leading_literal(same_line or " ".join(following))
            if found:
                assert matches(expected, value), (
                    f"{at}: gives {value!r}, the page says {expected!r}"
                )
                checked += 1
    return checked


def run_page(
    page: Path,
    namespace: dict[str, Any],
    *,
    first: int | None = None,
    printed: list[str] | None = None,
) -> int:
    """Run the Python blocks of ``page`` (the ``first`` ones) in order; the checks made."""
    blocks = fenced(page, "python")[:first]
    assert blocks, f"{page.name} has no Python block to run"
    where = page.relative_to(ROOT)
    return sum(run_block(code, f"{where}:{line}", namespace, printed) for line, code in blocks)


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``tmp_path`` as the working folder, with the repository's ``examples/`` in it."""
    (tmp_path / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_getting_started_runs_as_written(in_tmp: Path) -> None:
    # SPEC W2 (the refused free-form send), B2 (the contact without WhatsApp), B7.
    checked = run_page(ROOT / "docs" / "getting-started.md", {"__name__": "getting_started"})
    assert checked >= 5


def test_embedding_runs_as_written(in_tmp: Path) -> None:
    # SPEC W2 (template outside the window), X1 (STOP by SMS), X5 (sent once).
    # What the page leaves to the backend: its contacts, its transport, its draft file.
    draft = fenced(ROOT / "docs" / "embedding.md", "toml")
    assert len(draft) == 1
    (in_tmp / "spring.toml").write_text(draft[0][1], encoding="utf-8")
    wrote = datetime.now(UTC) - timedelta(hours=30)
    contacts = [
        Contact(
            id=f"c{n}",
            tags={"vip"},
            identities=[
                ChannelIdentity("wa-1", "whatsapp", f"3461234567{n}", last_inbound_at=wrote)
            ],
        )
        for n in range(2)
    ]
    transport = RecordingTransport()
    namespace: dict[str, Any] = {
        "__name__": "embedding",
        "contacts": contacts,
        "transport": transport,
    }
    try:
        checked = run_page(ROOT / "docs" / "embedding.md", namespace)
    finally:
        store = namespace.get("store")
        if store is not None:
            store.close()
    assert checked >= 3
    assert namespace["result"].events == (SendOptOutConfirmation(locale="en"),)
    assert [request.recipient for request in transport.requests] == ["34612345670", "34612345671"]


def test_readme_embedding_example_runs_as_written(in_tmp: Path) -> None:
    # SPEC W2: the README's first example is refused free-form, then sent as a template.
    printed: list[str] = []
    run_page(ROOT / "README.md", {"__name__": "readme"}, first=1, printed=printed)
    assert printed == ["template_required W2", "template ..."]


def test_testing_page_suites_pass(tmp_path: Path) -> None:
    page = ROOT / "docs" / "testing.md"
    blocks = fenced(page, "python")
    ini = fenced(page, "ini")
    assert len(ini) == 1
    assert ini[0][1].startswith("[pytest]")
    (tmp_path / "pytest.ini").write_text(ini[0][1], encoding="utf-8")
    tests = 0
    for number, (_, code) in enumerate(blocks):
        assert "def test_" in code, f"testing.md block {number}: not a test module"
        (tmp_path / f"test_docs_block_{number}.py").write_text(code, encoding="utf-8")
        tests += len(re.findall(r"^def test_", code, re.MULTILINE))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error", "."],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{tests} passed" in result.stdout, result.stdout


def test_a_marked_fragment_is_not_run(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```python\nx = 1\n```\n\n<!-- not run -->\n```python\nundefined_name\n```\n",
        encoding="utf-8",
    )
    assert fenced(page, "python") == [(2, "x = 1\n")]


def test_a_page_that_says_something_else_fails(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="the page says 3"):
        run_block("1 + 1   # 3\n", "page.md:1", {})
    with pytest.raises(AssertionError, match="the page says"):
        run_block("print('b')\n# a\n", "page.md:1", {})
    assert run_block("'abc' + 'def'   # 'abc...'\n1 + 1   # e.g. 2\n", "page.md:1", {}) == 1
