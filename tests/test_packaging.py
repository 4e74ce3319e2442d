"""What a user depending on omnimsg relies on: a PEP 440 version from the VCS tag, a
changelog in the Keep a Changelog form, and the typing marker."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

from packaging.version import Version

import omnimsg

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}
RELEASE = re.compile(r"^## \[(?P<version>[^\]]+)\](?: - (?P<date>\d{4}-\d{2}-\d{2}))?$")


def test_version_is_pep_440() -> None:
    # Written from the VCS tag at install or build time; the installed distribution's
    # metadata says the same unless a build ran since the install (.ci/check_dist.py
    # checks the wheel's two agree).
    assert str(Version(omnimsg.__version__)) == omnimsg.__version__  # PEP 440, normalized
    assert str(Version(version("omnimsg"))) == version("omnimsg")


def test_package_is_typed() -> None:
    assert (Path(omnimsg.__file__).parent / "py.typed").is_file()


def test_changelog_keeps_the_form() -> None:
    lines = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "# Changelog"
    releases = [RELEASE.match(line) for line in lines if line.startswith("## ")]
    assert all(releases), [line for line in lines if line.startswith("## ")]
    names = [match["version"] for match in releases if match]
    assert names[0] == "Unreleased"
    dated = []
    for match in releases[1:]:
        assert match is not None
        assert match["date"], f"release {match['version']} has no date"
        dated.append(Version(match["version"]))
    assert dated == sorted(dated, reverse=True), "newest release first"
    sections = [line[4:] for line in lines if line.startswith("### ")]
    assert sections
    assert set(sections) <= SECTIONS, sections
