"""omnimsg's pytest plugin: fixtures for testing your own compliance rules.

Installed with omnimsg, it registers itself as the ``omnimsg`` plugin (a ``pytest11``
entry point); load it by hand with ``pytest -p omnimsg.testing.pytest_plugin``.
Loading it imports the ``omnimsg`` package (this module lives in it) but no optional
dependency (no hypothesis, typer or SQLAlchemy), and declares fixtures, two markers
and two ini options, nothing else: a suite that uses none of them runs as before.

Fixtures (function scope; docs/testing.md has examples):

- ``omnimsg_now``: the fixed instant of the test, an aware UTC datetime.
- ``omnimsg_clock``: a :class:`~omnimsg.testing.FixedClock` standing at ``omnimsg_now``.
- ``omnimsg_transport``: a :class:`~omnimsg.testing.RecordingTransport` accepting
  everything.
- ``omnimsg_state_store``: an empty :class:`~omnimsg.stores.memory.MemoryStateStore`.
- ``omnimsg_profile``: the test's profile (built-in ``official`` unless told).
- ``make_profile``: ``make_profile("official", whatsapp={"window": "48h"})`` derives a
  profile with per-channel overrides.
- ``make_contact``: ``make_contact(phone="+34612345678", last_inbound=...)`` builds a
  contact with a unique id and an identity on each account named.

The instant and the profile are set per test with the markers
``@pytest.mark.omnimsg_now("2026-03-01T10:00:00+01:00")`` and
``@pytest.mark.omnimsg_profile("respondio")``, or for the whole suite with the ini
options ``omnimsg_now`` and ``omnimsg_profile`` (a relative ``.toml`` path there is
read from the ini file's folder). A fixture of the same name in your own
``conftest.py`` takes precedence over the plugin's.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from omnimsg.channels.registry import Profile
    from omnimsg.contacts import Contact
    from omnimsg.stores.memory import MemoryStateStore
    from omnimsg.testing import FixedClock, RecordingTransport

__all__ = [
    "DEFAULT_NOW",
    "DEFAULT_PROFILE",
    "make_contact",
    "make_profile",
    "omnimsg_clock",
    "omnimsg_now",
    "omnimsg_profile",
    "omnimsg_state_store",
    "omnimsg_transport",
]

DEFAULT_NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
"""The instant of a test that sets none: Monday 5 January 2026, 09:00 UTC."""

DEFAULT_PROFILE = "official"
"""The profile of a test that sets none: the platforms' own dated rules."""

_NOW_HELP = "the instant omnimsg fixtures stand at: an ISO 8601 datetime with an offset"
_PROFILE_HELP = "the profile omnimsg fixtures use: a built-in name or a .toml path"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Declare the ini options ``omnimsg_now`` and ``omnimsg_profile``."""
    parser.addini("omnimsg_now", _NOW_HELP, default="")
    parser.addini("omnimsg_profile", _PROFILE_HELP, default="")


def pytest_configure(config: pytest.Config) -> None:
    """Declare the markers ``omnimsg_now`` and ``omnimsg_profile``."""
    config.addinivalue_line(
        "markers", "omnimsg_now(instant): the instant omnimsg fixtures stand at (ISO 8601)"
    )
    config.addinivalue_line(
        "markers", "omnimsg_profile(name_or_path): the profile omnimsg fixtures use"
    )


def _setting(request: pytest.FixtureRequest, name: str) -> tuple[object, bool]:
    """The closest ``name`` marker's argument, else the ini option (``""`` when unset),
    and whether it came from the ini option."""
    marker = request.node.get_closest_marker(name)
    if marker is not None:
        if len(marker.args) != 1 or marker.kwargs:
            raise pytest.UsageError(f"@pytest.mark.{name} takes exactly one argument")
        return marker.args[0], False
    return request.config.getini(name), True


def _instant(value: object) -> datetime:
    """A marker's or ini option's instant, checked by omnimsg's own rules."""
    from omnimsg._convert import shown, to_instant
    from omnimsg.errors import InputError

    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InputError(
                f"omnimsg_now: expected an ISO 8601 datetime with an offset, got {shown(value)}"
            ) from None
    return to_instant(value, "omnimsg_now")


@pytest.fixture
def omnimsg_now(request: pytest.FixtureRequest) -> datetime:
    """The test's fixed instant (UTC): the ``omnimsg_now`` marker, the ini option, or
    :data:`DEFAULT_NOW`. A naive or malformed instant is an error."""
    value, from_ini = _setting(request, "omnimsg_now")
    if from_ini and value == "":
        return DEFAULT_NOW
    return _instant(value)


@pytest.fixture
def omnimsg_clock(omnimsg_now: datetime) -> FixedClock:
    """A :class:`~omnimsg.testing.FixedClock` at ``omnimsg_now``; move it with
    ``advance(timedelta)`` or ``set(instant)``."""
    from omnimsg.testing import FixedClock

    return FixedClock(omnimsg_now)


@pytest.fixture
def omnimsg_transport() -> RecordingTransport:
    """A fresh :class:`~omnimsg.testing.RecordingTransport` that accepts every send."""
    from omnimsg.testing import RecordingTransport

    return RecordingTransport()


@pytest.fixture
def omnimsg_state_store() -> MemoryStateStore:
    """A fresh, empty in-memory state store."""
    from omnimsg.stores.memory import MemoryStateStore

    return MemoryStateStore()


@pytest.fixture
def omnimsg_profile(request: pytest.FixtureRequest) -> Profile:
    """The test's profile: the ``omnimsg_profile`` marker, the ini option, or
    :data:`DEFAULT_PROFILE`. A name is a built-in profile; a ``.toml`` path a file (a
    relative one in the ini option is read from the ini file's folder); a marker may
    also give a :class:`~omnimsg.channels.registry.Profile`."""
    from omnimsg._convert import shown
    from omnimsg.channels.registry import Profile, load_profile
    from omnimsg.errors import InputError

    value, from_ini = _setting(request, "omnimsg_profile")
    if isinstance(value, Profile):
        return value
    if not isinstance(value, str | Path):
        raise InputError(
            f"omnimsg_profile: expected a profile name, a .toml path or a Profile, "
            f"got {shown(value)}"
        )
    if from_ini:
        if value == "":
            return load_profile(DEFAULT_PROFILE)
        inipath = request.config.inipath
        if isinstance(value, str) and value.endswith(".toml") and inipath is not None:
            return load_profile(inipath.parent / value)
    return load_profile(value)


@pytest.fixture
def make_profile(omnimsg_profile: Profile) -> Callable[..., Profile]:
    """Derive a profile in one line: ``make_profile("official", sms={"quiet_hours": ...})``.

    See :func:`omnimsg.testing.derive_profile` for the arguments; without a base, the
    test's ``omnimsg_profile`` is derived.
    """
    from omnimsg.testing._builders import derive_profile

    def build(
        base: str | Profile | None = None,
        *,
        name: str | None = None,
        overrides: Mapping[str, Any] | None = None,
        **channels: Mapping[str, Any],
    ) -> Profile:
        return derive_profile(
            omnimsg_profile if base is None else base, name=name, overrides=overrides, **channels
        )

    return build


@pytest.fixture
def make_contact(omnimsg_now: datetime) -> Callable[..., Contact]:
    """Build contacts with unique ids (``contact-1``, ``contact-2``, ...).

    See :class:`omnimsg.testing.ContactFactory` for the arguments; relative
    ``last_inbound`` values (a timedelta: how long ago) count back from ``omnimsg_now``.
    """
    from omnimsg.testing._builders import ContactFactory

    return ContactFactory(now=omnimsg_now, ids=itertools.count(1))
