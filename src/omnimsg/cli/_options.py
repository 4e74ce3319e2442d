"""Options that several commands share, declared once (their names, help and defaults)."""

from __future__ import annotations

from typing import Annotated

import typer

from omnimsg.audiences import UnknownColumns

__all__ = ["JsonFlag", "ProfileOption", "RegionOption", "UnknownColumnsOption"]

JsonFlag = Annotated[
    bool, typer.Option("--json", help="Print one JSON document (see docs/cli.md).")
]
"""``--json``: one JSON document instead of tables."""

ProfileOption = Annotated[
    str,
    typer.Option(
        "--profile",
        metavar="NAME|PATH",
        help="A built-in profile, or a profile file (a value holding / or ending in .toml).",
    ),
]
"""``--profile``: a built-in profile name or a profile file's path (``load_named``)."""

RegionOption = Annotated[
    str | None,
    typer.Option(
        "--region",
        metavar="CC",
        help="Phone region (ISO 3166, such as ES) for numbers without +country.",
        show_default=False,
    ),
]
"""``--region``: the phone region of a contacts CSV's national numbers."""

UnknownColumnsOption = Annotated[
    UnknownColumns,
    typer.Option("--unknown-columns", help="CSV columns that are not contact fields."),
]
"""``--unknown-columns``: what a contacts CSV's other columns are."""
