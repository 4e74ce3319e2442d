"""Running the command line in-process and as a real program."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import attrs
import pytest

from omnimsg.cli import main

EXAMPLES = Path(__file__).parent.parent.parent / "examples"
NOW = ("--now", "2026-11-23T12:00:00+00:00")
SOURCE = Path(__file__).parent.parent.parent / "src"


@attrs.frozen
class Result:
    """What one run of the command line did."""

    status: int
    out: str
    err: str


Run = Callable[..., Result]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """Run ``omnimsg ARGS...`` in this process; stdout and stderr are captured."""

    def invoke(*args: str) -> Result:
        capsys.readouterr()
        status = main(list(args))
        captured = capsys.readouterr()
        return Result(status, captured.out, captured.err)

    return invoke


def program_env(**overrides: str | None) -> dict[str, str]:
    """The environment for a child ``python -m omnimsg``: no colour forced, src importable."""
    env = {k: v for k, v in os.environ.items() if k not in {"FORCE_COLOR", "NO_COLOR"}}
    env.pop("TTY_COMPATIBLE", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SOURCE), env.get("PYTHONPATH")]))
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run_program(
    *args: str | bytes, env: Mapping[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m omnimsg ARGS...`` as a child process, output as bytes."""
    return subprocess.run(
        [sys.executable, "-m", "omnimsg", *args],
        capture_output=True,
        env=dict(env) if env is not None else program_env(),
        timeout=timeout,
        check=False,
    )
