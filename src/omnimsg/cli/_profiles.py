"""``omnimsg profiles``: each channel's settings under one or more profiles.

Built-in profiles are named as arguments; ``--file`` always names a file, so a file
called ``respondio`` is never mistaken for the built-in profile of that name.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from omnimsg import (
    ChannelCapabilities,
    ChannelKind,
    ConfigurationError,
    Profile,
    SystemClock,
    UnknownProfileError,
    builtin_profile_names,
    load_profile,
)
from omnimsg.channels import profile_json_schema
from omnimsg.cli._files import require_regular_file
from omnimsg.cli._flags import as_of_instant, text
from omnimsg.cli._options import JsonFlag
from omnimsg.cli._output import Output, styled
from omnimsg.cli._settings import capabilities_json, setting_rows

__all__ = ["load_builtin", "load_file", "load_named", "profiles"]

NOT_YET_ENFORCED = "not yet enforced"


def _complete_builtin(incomplete: str) -> list[str]:
    return [name for name in builtin_profile_names() if name.startswith(incomplete)]


def complete_channel(incomplete: str) -> list[str]:
    """Channel kinds that start with ``incomplete``, for shell completion."""
    return [kind.value for kind in ChannelKind if kind.value.startswith(incomplete)]


def load_builtin(name: str, flag: str) -> Profile:
    """The built-in profile ``name``; a name is never read as a path.

    Raises:
        UnknownProfileError: no built-in profile has that name.
    """
    if text(name, flag) not in builtin_profile_names():
        known = ", ".join(builtin_profile_names())
        how = (
            "a file goes with --file"
            if flag == "NAME"
            else f"a file is named by its path: {flag} ./mine.toml"
        )
        raise UnknownProfileError(
            f"no built-in profile {name!r}; built-in profiles: {known} ({how})"
        )
    return load_profile(name)


def load_file(path: str) -> Profile:
    """The profile in the file at ``path``, which must be a regular, readable file.

    Raises:
        ConfigurationError: the file cannot be read (ProfileError: it is malformed).
    """
    require_regular_file(path, "profile file", ConfigurationError)
    return load_profile(Path(path))


def load_named(value: str, flag: str) -> Profile:
    """A built-in name, or a path when ``value`` holds a ``/`` or ends in ``.toml``."""
    if value.endswith(".toml") or os.sep in value or (os.altsep and os.altsep in value):
        return load_file(value)
    return load_builtin(value, flag)


def _channels(profile: Profile, wanted: list[str], as_of: datetime) -> list[ChannelCapabilities]:
    kinds = wanted or [kind.value for kind in profile.kinds]
    return [profile.capabilities(text(kind, "--channel"), as_of=as_of) for kind in kinds]


def profiles(
    ctx: typer.Context,
    names: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="NAME",
            help="Built-in profiles to show (default: all, unless --file is given).",
            autocompletion=_complete_builtin,
            show_default=False,
        ),
    ] = None,
    files: Annotated[
        list[str] | None,
        typer.Option(
            "--file",
            metavar="PATH",
            help="A profile file to show (repeatable). Always a path, never a built-in name.",
            show_default=False,
        ),
    ] = None,
    channels: Annotated[
        list[str] | None,
        typer.Option(
            "--channel",
            metavar="KIND",
            help="Show only this channel kind (repeatable).",
            autocompletion=complete_channel,
            show_default=False,
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            metavar="WHEN",
            help="Resolve dated values at this ISO 8601 instant or date (default: now).",
            show_default=False,
        ),
    ] = None,
    json_output: JsonFlag = False,
    schema: Annotated[
        bool,
        typer.Option(
            "--schema",
            help="Print the JSON Schema of profile files (for editors) and exit.",
        ),
    ] = False,
) -> int:
    """Print each channel's settings under built-in profiles or profile files."""
    output = Output.of(ctx)
    if schema:
        output.json(profile_json_schema())
        return 0
    at = as_of_instant(as_of, "--as-of", default=SystemClock().now())
    loaded = [load_file(path) for path in files or ()]
    chosen = names or ([] if files else list(builtin_profile_names()))
    loaded += [load_builtin(name, "NAME") for name in chosen]
    resolved = [(profile, _channels(profile, channels or [], at)) for profile in loaded]
    if json_output:
        output.json(
            {
                "as_of": at.isoformat(),
                "profiles": [
                    {
                        "name": profile.name,
                        "description": profile.description,
                        "source": profile.source,
                        "channels": [capabilities_json(caps) for caps in capabilities],
                    }
                    for profile, capabilities in resolved
                ],
            }
        )
        return 0
    for index, (profile, capabilities) in enumerate(resolved):
        if index:
            output.blank()
        output.line(styled(profile.name, "bold cyan"), ": ", profile.description)
        output.line(f"source {profile.source}, as of {at.isoformat()}")
        for caps in capabilities:
            output.blank()
            output.table(
                ("setting", "value", "status"),
                (
                    (
                        row.name,
                        row.value,
                        "" if row.enforced else styled(NOT_YET_ENFORCED, "yellow"),
                    )
                    for row in setting_rows(caps)
                ),
                title=caps.kind.value,
            )
    return 0
