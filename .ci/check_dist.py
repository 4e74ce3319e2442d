"""Check the built distributions in a folder: what a user's install will hold.

Run by ``make package`` after ``python -m build`` and ``twine check``: the wheel
must carry the typing marker, the data files the package reads at run time (the
built-in profiles, the rule catalogue), the version written from the VCS tag, and
the ``omnimsg`` command and pytest plugin entry points; it must not carry tests.
"""

from __future__ import annotations

import sys
import zipfile
from email.parser import Parser
from pathlib import Path

from packaging.version import Version

REQUIRED = [
    "omnimsg/py.typed",
    "omnimsg/_version.py",
    "omnimsg/channels/profiles/official.toml",
    "omnimsg/channels/profiles/respondio.toml",
    "omnimsg/channels/profiles/livetex.toml",
    "omnimsg/channels/profiles/expertconnect.toml",
    "omnimsg/policy/rules.toml",
]
ENTRY_POINTS = ["omnimsg = omnimsg.cli:main", "omnimsg = omnimsg.testing.pytest_plugin"]


def main(folder: str) -> int:
    wheels = sorted(Path(folder).glob("omnimsg-*.whl"))
    sdists = sorted(Path(folder).glob("omnimsg-*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        print(f"expected one wheel and one sdist in {folder}, got {wheels + sdists}")
        return 1
    problems: list[str] = []
    with zipfile.ZipFile(wheels[0]) as wheel:
        names = set(wheel.namelist())
        problems += [f"missing {name}" for name in REQUIRED if name not in names]
        problems += [f"ships tests: {name}" for name in names if name.startswith("tests/")]
        info = next(name for name in names if name.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(wheel.read(info).decode())
        version = Version(metadata["Version"])
        entry_points = wheel.read(info.replace("METADATA", "entry_points.txt")).decode()
        problems += [
            f"no entry point {line!r}" for line in ENTRY_POINTS if line not in entry_points
        ]
        version_file = wheel.read("omnimsg/_version.py").decode()
        if f"'{version}'" not in version_file and f'"{version}"' not in version_file:
            problems.append(f"omnimsg/_version.py does not say {version}")
    for problem in problems:
        print(problem)
    verdict = "FAILED" if problems else "ok"
    print(f"{wheels[0].name}: version {version}, {len(names)} files, {verdict}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "dist"))
