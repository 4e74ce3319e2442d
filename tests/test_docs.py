"""The docs site: every public name has a docstring, and the API reference shows it.

A public module is one whose dotted path has no part starting with ``_`` (the
command line's modules aside: ``docs/cli.md`` documents the program). Docstrings are
read the way the site reads them, with griffe, so that a constant's docstring (the
string under it) counts. ``mkdocs build --strict`` itself runs last, into a
temporary directory.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import omnimsg

griffe = pytest.importorskip("griffe")
yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"
REFERENCE = DOCS / "reference"
CONFIG = ROOT / "mkdocs.yml"
MKDOCS = Path(sys.executable).parent / "mkdocs"
DIRECTIVE = re.compile(r"^::: ([\w.]+)$")
MEMBER = re.compile(r"^ {8}- (\w+)$")


def _public_module_names() -> list[str]:
    names = ["omnimsg"]
    for info in pkgutil.walk_packages(omnimsg.__path__, "omnimsg."):
        parts = info.name.split(".")
        if parts[1] == "cli" or any(part.startswith("_") for part in parts[1:]):
            continue
        names.append(info.name)
    return names


def _import(name: str) -> ModuleType | None:
    """The module, or ``None`` when an optional dependency it needs is missing."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if (exc.name or "").startswith("omnimsg"):
            raise
        return None


@cache
def _modules() -> tuple[ModuleType, ...]:
    found = (_import(name) for name in _public_module_names())
    return tuple(module for module in found if module is not None)


@cache
def _package() -> Any:
    return griffe.load("omnimsg", search_paths=[str(ROOT / "src")], resolve_aliases=True)


def _griffe_object(path: str) -> Any:
    package = _package()
    found = package if path == "omnimsg" else package[path.removeprefix("omnimsg.")]
    return found.final_target if found.is_alias else found


def _exported_above(name: str) -> set[str]:
    parts = name.split(".")
    names: set[str] = set()
    for end in range(2, len(parts)):
        parent = importlib.import_module(".".join(parts[:end]))
        names |= set(getattr(parent, "__all__", ()))
    return names


def _public_members(cls: Any) -> list[tuple[str, Any]]:
    """The methods and properties a class defines itself, by name."""
    members = []
    for name, member in cls.members.items():
        if name.startswith("_") or member.is_alias:
            continue
        if member.is_function or "property" in member.labels:
            members.append((name, member))
    return members


def _reference() -> dict[str, list[str] | None]:
    """Each ``::: module`` of the reference pages and its ``members:`` list (or None)."""
    shown: dict[str, list[str] | None] = {}
    for page in sorted(REFERENCE.glob("*.md")):
        current: str | None = None
        for line in page.read_text(encoding="utf-8").splitlines():
            directive = DIRECTIVE.match(line)
            member = MEMBER.match(line)
            if directive:
                current = directive.group(1)
                shown.setdefault(current, None)
            elif member and current is not None:
                listed = shown.get(current) or []
                shown[current] = [*listed, member.group(1)]
            elif line and not line.startswith(" "):
                current = None
    return shown


def test_every_public_module_has_an_all() -> None:
    missing = [
        m.__name__
        for m in _modules()
        if "__all__" not in vars(m)
        and m.__name__
        != (
            "omnimsg.channels.profiles"  # the built-in profiles' data files, no code
        )
    ]
    assert missing == []


def test_every_public_name_has_a_docstring() -> None:
    missing = []
    for module in _modules():
        for name in getattr(module, "__all__", ()):
            target = _griffe_object(f"{module.__name__}.{name}")
            if not target.docstring or not target.docstring.value.strip():
                missing.append(f"{module.__name__}.{name}")
    assert missing == []


def test_every_public_method_and_property_of_a_public_class_has_a_docstring() -> None:
    missing = []
    for module in _modules():
        for name in getattr(module, "__all__", ()):
            target = _griffe_object(f"{module.__name__}.{name}")
            if not target.is_class or target.path != f"{module.__name__}.{name}":
                continue  # a class is checked once, where it is defined
            for member_name, member in _public_members(target):
                if not member.docstring or not member.docstring.value.strip():
                    missing.append(f"{target.path}.{member_name}")
    assert missing == []


def test_every_public_name_is_shown_by_a_reference_page() -> None:
    """A name shows through its module's ``:::`` block, or an enclosing package's."""
    shown = _reference()
    assert "omnimsg" in shown
    missing = []
    for module in _modules():
        names = list(getattr(module, "__all__", ()))
        own = [n for n in names if n not in _exported_above(module.__name__)]
        if module.__name__ == "omnimsg" or not own:
            continue
        if module.__name__ not in shown:
            missing.append(f"{module.__name__} (no '::: {module.__name__}' block)")
            continue
        listed = shown[module.__name__]
        if listed is not None:
            missing += [f"{module.__name__}.{n}" for n in own if n not in listed]
    assert missing == []


def test_every_package_has_its_reference_block() -> None:
    shown = _reference()
    packages = [m.__name__ for m in _modules() if hasattr(m, "__path__")]
    missing = [p for p in packages if p not in shown and p != "omnimsg.channels.profiles"]
    assert missing == []


def test_every_reference_block_names_a_module_that_exists() -> None:
    names = set(_public_module_names())
    assert [name for name in _reference() if name not in names] == []


def _nav_pages(entries: Any) -> list[str]:
    pages: list[str] = []
    for entry in entries:
        if isinstance(entry, str):
            pages.append(entry)
        elif isinstance(entry, dict):
            for value in entry.values():
                pages += _nav_pages(value) if isinstance(value, list) else [value]
    return pages


def _config() -> dict[str, Any]:
    text = CONFIG.read_text(encoding="utf-8")
    config: dict[str, Any] = yaml.safe_load(text)
    return config


def test_the_site_reads_docs_and_builds_under_build_site() -> None:
    config = _config()
    assert config["docs_dir"] == "docs"
    assert config["site_dir"] == "build/site"
    assert config["theme"]["name"] == "material"


def test_the_nav_lists_every_page_and_every_page_exists() -> None:
    """Every Markdown page under docs/ is in the nav, and every nav page is a file."""
    nav = _nav_pages(_config()["nav"])
    assert {"index.md", "getting-started.md", "rules.md", "testing.md", "audit.md"} <= set(nav)
    assert {"integrations.md", "delivery.md", "platform-rules.md"} <= set(nav)
    on_disk = {
        str(path.relative_to(DOCS))
        for path in DOCS.rglob("*.md")
        if path.relative_to(DOCS).parts[0] != "hooks"
    }
    assert sorted(set(nav) - on_disk) == []
    assert sorted(on_disk - set(nav)) == []


def _roles_hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "griffe_roles", DOCS / "hooks" / "griffe_roles.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            ":func:`omnimsg.decide`",
            '<autoref identifier="omnimsg.decide" optional><code>omnimsg.decide</code></autoref>',
        ),
        (
            ":class:`~omnimsg.policy.Decision`",
            '<autoref identifier="omnimsg.policy.Decision" '
            "optional><code>Decision</code></autoref>",
        ),
        (":meth:`derive()`", '<autoref identifier="derive" optional><code>derive</code></autoref>'),
        (":data:`a b`", "`a b`"),
        ("the tree::\n\n    Root", "the tree:\n\n    Root"),
        ("``plain`` text", "``plain`` text"),
    ],
)
def test_the_docs_hook_turns_sphinx_roles_into_links(text: str, shown: str) -> None:
    """Docstrings name objects as Sphinx does; the site shows them as Markdown links."""
    assert _roles_hook().markdown(text) == shown


def test_the_docs_hook_words_enum_members_from_the_catalogue() -> None:
    """An enum member shows its value; a reason code's member its words and rule (SPEC W2)."""
    words = _roles_hook().member_words("'template_required'")
    assert words.startswith("``'template_required'``: the window is closed")
    assert words.endswith("(W2).")
    assert _roles_hook().member_words("'planned'") == "``'planned'``"


def test_mkdocs_build_strict_passes(tmp_path: Path) -> None:
    """A broken link, a missing page or a docstring griffe cannot read fails the build."""
    if not MKDOCS.exists() or shutil.which(str(MKDOCS)) is None:
        pytest.skip("mkdocs is not installed (the docs extra)")
    done = subprocess.run(
        [str(MKDOCS), "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={"PATH": str(MKDOCS.parent), "NO_MKDOCS_2_WARNING": "1", "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert (tmp_path / "site" / "rules" / "index.html").is_file()
