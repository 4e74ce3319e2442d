"""examples/compliance_tests: a business's own suite, on the public API only, passing."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import subprocess
import sys
from pathlib import Path

SUITE = Path(__file__).resolve().parents[2] / "examples" / "compliance_tests"


def _imports(path: Path) -> list[tuple[str, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found += [(node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(alias.name, "") for alias in node.names]
    return found


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def test_the_example_imports_only_public_names() -> None:
    """Every omnimsg name it imports is in its module's __all__; no private module, no
    import of omnimsg's own tests."""
    files = sorted(SUITE.glob("*.py"))
    assert len(files) >= 4
    for path in files:
        for module, name in _imports(path):
            top = module.split(".")[0]
            assert top not in {"tests", "broadcasts", "segments"}, (path.name, module)
            if top != "omnimsg":
                continue
            assert not any(part.startswith("_") for part in module.split(".")), (path, module)
            if name and not _is_module(f"{module}.{name}"):
                public = importlib.import_module(module).__all__
                assert name in public, (path.name, module, name)


def test_the_example_suite_passes_with_the_plugin() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(SUITE),
            "-q",
            "-p",
            "no:omnimsg",
            "-p",
            "omnimsg.testing.pytest_plugin",
            "-p",
            "no:cacheprovider",
        ],
        capture_output=True,
        text=True,
        cwd=SUITE.parents[1],
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
    assert "failed" not in result.stdout
