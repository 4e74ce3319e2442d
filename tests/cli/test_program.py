"""The command line as a program: entry points, the extra, pipes, colour, completion.

These run ``python -m omnimsg`` as a child process, because what they check lives
outside one Python call: imports, exit statuses, terminals and broken pipes.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import subprocess
import sys

import pytest

from omnimsg import __version__

from .conftest import NOW, program_env, run_program

EXTRA = ("typer", "rich", "click", "shellingham")
_SGR = re.compile(rb"\x1b\[([0-9;]*)m")


def test_version_and_python_dash_m() -> None:
    result = run_program("--version")
    assert result.returncode == 0
    assert result.stdout.decode() == f"omnimsg {__version__}\n"
    assert result.stderr == b""


def test_no_command_prints_the_help_and_exits_2() -> None:
    result = run_program()
    assert result.returncode == 2
    assert b"Usage: omnimsg" in result.stdout
    assert b"profiles" in result.stdout


def test_import_omnimsg_never_imports_typer_or_rich() -> None:
    code = (
        "import sys, omnimsg, omnimsg.cli\n"
        f"print(sorted({{m.partition('.')[0] for m in sys.modules}} & {set(EXTRA)!r}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, env=program_env(), check=True
    )
    assert result.stdout.decode().strip() == "[]"


_BLOCK_EXTRA = """
import sys
from importlib.abc import MetaPathFinder

class WithoutTheExtra(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, WithoutTheExtra())
from omnimsg.cli import main
raise SystemExit(main(["profiles"]))
"""


@pytest.mark.parametrize("blocked", [{"typer"}, {"rich"}, set(EXTRA)])
def test_without_the_extra_the_command_says_what_to_install(blocked: set[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _BLOCK_EXTRA.format(blocked=blocked)],
        capture_output=True,
        env=program_env(),
        check=False,
    )
    assert result.returncode == 3
    assert result.stdout == b""
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1
    assert "pip install 'omnimsg[cli]'" in lines[0]


def test_sys_modules_none_counts_as_a_missing_extra() -> None:
    code = (
        "import sys\nsys.modules['typer'] = None\n"
        "from omnimsg.cli import main\nraise SystemExit(main(['--version']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, env=program_env(), check=False
    )
    assert result.returncode == 3
    assert result.stderr.decode().count("\n") == 1


def test_a_missing_module_of_omnimsg_itself_is_not_blamed_on_the_extra() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _BLOCK_EXTRA.format(blocked={"omnimsg.cli._segment"}).replace(
                'name.partition(".")[0] in', "name in"
            ),
        ],
        capture_output=True,
        env=program_env(),
        check=False,
    )
    assert result.returncode == 1
    assert b"omnimsg.cli._segment" in result.stderr
    assert b"omnimsg[cli]" not in result.stderr


def test_a_reader_that_stops_early_ends_the_output_quietly() -> None:
    """`omnimsg profiles | head -1`, with a pipe small enough that the writer must wait."""
    with subprocess.Popen(
        [sys.executable, "-m", "omnimsg", "profiles"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=program_env(),
    ) as proc:
        assert proc.stdout is not None
        assert proc.stderr is not None
        fcntl.fcntl(proc.stdout.fileno(), fcntl.F_SETPIPE_SZ, 4096)
        first = proc.stdout.readline()
        proc.stdout.close()
        err = proc.stderr.read()
        assert proc.wait(timeout=60) == 0
    assert first.startswith(b"expertconnect: ")
    assert err == b""


def test_head_dash_1_in_a_shell_prints_one_line_and_no_error() -> None:
    result = subprocess.run(
        f"'{sys.executable}' -m omnimsg profiles --json | head -1",
        shell=True,
        capture_output=True,
        env=program_env(),
        timeout=60,
        check=False,
    )
    assert result.stdout == b"{\n"
    assert result.stderr == b""


def _on_a_terminal(*args: str, env: dict[str, str]) -> bytes:
    main, child = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-m", "omnimsg", *args], stdout=child, stderr=child, env=env
    ) as proc:
        os.close(child)
        chunks = []
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        os.close(main)
        assert proc.wait(timeout=60) == 0
    return b"".join(chunks)


def _colours(output: bytes) -> set[int]:
    params = {int(p) for m in _SGR.finditer(output) for p in m.group(1).split(b";") if p}
    return {p for p in params if 30 <= p <= 38 or 90 <= p <= 97}


CHECK = ("check", "--channel", "sms", *NOW)


def test_colour_on_a_terminal_only() -> None:
    terminal = program_env(TERM="xterm-256color")
    assert _colours(_on_a_terminal(*CHECK, env=terminal))
    piped = run_program(*CHECK, env=terminal)
    assert piped.returncode == 0
    assert b"\x1b" not in piped.stdout


def test_no_color_turns_colour_off_on_a_terminal() -> None:
    output = _on_a_terminal(*CHECK, env=program_env(TERM="xterm-256color", NO_COLOR="1"))
    assert b"allowed" in output
    assert not _colours(output)


@pytest.mark.parametrize(
    ("words", "cword", "expected"),
    [
        ("omnimsg prof", "1", "profiles"),
        ("omnimsg check --chan", "2", "--channel"),
        ("omnimsg check --channel wh", "3", "whatsapp"),
        ("omnimsg profiles exp", "2", "expertconnect"),
        ("omnimsg segment x.json --unknown-columns ig", "4", "ignore"),
    ],
)
def test_shell_completion(words: str, cword: str, expected: str) -> None:
    env = program_env(_OMNIMSG_COMPLETE="complete_bash", COMP_WORDS=words, COMP_CWORD=cword)
    result = run_program(env=env)
    assert result.returncode == 0
    assert expected in result.stdout.decode().split()


def test_show_completion_prints_a_script() -> None:
    # typer detects the shell from the process's parents: run it under bash, so that
    # the test does not depend on what started the test run.
    result = subprocess.run(
        ["bash", "-c", '"$0" -m omnimsg --show-completion; exit $?', sys.executable],
        capture_output=True,
        env=program_env(),
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert b"_omnimsg_completion" in result.stdout


def test_the_console_script_runs_main() -> None:
    script = os.path.join(os.path.dirname(sys.executable), "omnimsg")
    if not os.path.exists(script):
        pytest.skip("the omnimsg script is not installed next to this interpreter")
    result = subprocess.run([script, "--version"], capture_output=True, check=False)
    assert (result.returncode, result.stdout.decode()) == (0, f"omnimsg {__version__}\n")
