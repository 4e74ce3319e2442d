"""Profiles: load them (built-in, from a file, from a dict), derive them, resolve them.

A :class:`Profile` is validated once when loaded. :meth:`Profile.capabilities` resolves
one channel kind as of an instant into a frozen
:class:`~omnimsg.channels.capabilities.ChannelCapabilities` and caches it per period
in which no dated value changes, so the hot path asks for capabilities once and
reuses them. Reading files happens here, at the boundary, never in the policy core.
"""

from __future__ import annotations

import bisect
import copy
import functools
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, time
from importlib import resources
from pathlib import Path
from typing import Any

import attrs
from pydantic import BaseModel, ValidationError

from omnimsg._files import read_regular
from omnimsg._time import require_aware
from omnimsg.channels.capabilities import (
    ChannelCapabilities,
    ContentLimits,
    DoubleOptIn,
    FrequencyLimit,
    KeywordSet,
    QuietHours,
    RegionRule,
    TierPolicy,
)
from omnimsg.channels.kinds import AfterWindow, ChannelKind, parse_channel_kind
from omnimsg.channels.schema import (
    ChannelSpec,
    ContentSpec,
    DatedEntry,
    DoubleOptInSpec,
    FrequencyLimitSpec,
    KeywordSetSpec,
    ProfileSpec,
    QuietHoursSpec,
    RegionSpec,
    TierSpec,
    instant_of,
)
from omnimsg.errors import (
    ConfigurationError,
    InputError,
    ProfileError,
    UnknownChannelError,
    UnknownProfileError,
)

__all__ = [
    "MAX_PROFILE_BYTES",
    "MAX_PROFILE_DEPTH",
    "Profile",
    "builtin_profile_names",
    "load_profile",
    "profile_from_dict",
]

_PROFILE_PACKAGE = "omnimsg.channels.profiles"


@functools.cache
def builtin_profile_names() -> tuple[str, ...]:
    """Names of the profiles shipped with omnimsg, sorted."""
    files = resources.files(_PROFILE_PACKAGE).iterdir()
    return tuple(sorted(f.name[:-5] for f in files if f.name.endswith(".toml")))


def _error_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in ("dated", "plain") or "[" in part or "(" in part:
            continue
        else:
            path += f".{part}" if path else part
    return path


def _merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _validate(data: Mapping[str, Any], source: str) -> ProfileSpec:
    try:
        return ProfileSpec.model_validate(data)
    except ValidationError as exc:
        problems = [(_error_path(err["loc"]), err["msg"]) for err in exc.errors()]
        raise ProfileError(source, problems) from None


MAX_PROFILE_DEPTH = 16
"""How deeply tables and arrays may nest in a profile; the format needs five."""
MAX_PROFILE_BYTES = 1_048_576
"""The largest profile file read (1 MiB); the built-in ones are a few KiB."""


def _check_nesting(data: object, source: str) -> None:
    """Refuse data nested deeper than :data:`MAX_PROFILE_DEPTH`, without recursing."""
    stack: list[tuple[object, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, Mapping):
            children: Iterable[object] = value.values()
        elif isinstance(value, list | tuple):
            children = value
        else:
            continue
        if depth >= MAX_PROFILE_DEPTH:
            raise ProfileError(
                source, [("", f"tables and arrays nest deeper than {MAX_PROFILE_DEPTH} levels")]
            )
        stack.extend((child, depth + 1) for child in children)


def profile_from_dict(
    data: Mapping[str, Any], *, source: str = "<dict>", root: str | Path | None = None
) -> Profile:
    """Build a profile from already-parsed data (the same shape as a profile file).

    With ``extends = "<built-in name or .toml path>"`` the data is merged over that
    profile (tables merge key by key, other values replace). With ``root``, a file it
    extends must lie inside that folder (see :func:`load_profile`). The data is
    copied: later changes to ``data`` do not reach the profile. Raises
    :class:`~omnimsg.errors.ProfileError` naming ``source``, the key path and the problem.
    """
    if not isinstance(source, str):
        raise InputError(f"source: expected text, got {type(source).__name__}")
    confined = _root(root)
    return _from_dict(data, source, base_dir=confined, chain=(), root=confined)


def _root(root: object) -> Path | None:
    if root is None:
        return None
    if not isinstance(root, str | Path):
        raise ConfigurationError(f"root: expected a folder path, got {type(root).__name__}")
    try:
        return Path(root).resolve()
    except (OSError, ValueError, RuntimeError) as exc:
        raise ConfigurationError(f"root: cannot use {str(root)[:200]!r}: {exc}") from None


def _from_dict(
    data: object,
    source: str,
    *,
    base_dir: Path | None,
    chain: tuple[str, ...],
    root: Path | None,
) -> Profile:
    if not isinstance(data, Mapping):
        raise ProfileError(
            source, [("", f"expected a table of settings, got {type(data).__name__}")]
        )
    _check_nesting(data, source)
    raw = copy.deepcopy(dict(data))
    parent = raw.get("extends")
    if isinstance(parent, str):
        base = _load(parent, base_dir=base_dir, chain=chain, root=root, source=source)
        raw = _merge(base.raw, {k: v for k, v in raw.items() if k != "extends"})
        raw["extends"] = parent
    return Profile(spec=_validate(raw, source), raw=raw, source=source)


def _read_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(source, [("", f"not valid TOML: {exc}")]) from None
    except RecursionError:
        # tomllib recurses once per nested array or inline table.
        raise ProfileError(
            source, [("", f"tables and arrays nest deeper than {MAX_PROFILE_DEPTH} levels")]
        ) from None


@functools.cache
def _builtin(name: str) -> Profile:
    resource = resources.files(_PROFILE_PACKAGE).joinpath(f"{name}.toml")
    source = f"<built-in profile {name}>"
    data = _read_toml(resource.read_text(encoding="utf-8"), source)
    return _from_dict(data, source, base_dir=None, chain=(f"built-in {name}",), root=None)


def load_profile(name_or_path: str | Path, *, root: str | Path | None = None) -> Profile:
    """Load a built-in profile by name (``"respondio"``) or a profile file by path.

    A string ending in ``.toml`` or a :class:`~pathlib.Path` is a file; anything else
    names a built-in profile. A built-in profile is loaded once and shared (profiles
    are immutable), so its capabilities objects are the same on every call.

    ``root`` confines loading to one folder: the file and every file it ``extends``
    (after following symbolic links) must lie inside it, so a profile supplied by one
    tenant cannot read another's. Built-in profiles may always be extended. Only
    regular files are read (a FIFO or a device is refused, never waited on), at most
    :data:`MAX_PROFILE_BYTES`.

    Raises :class:`~omnimsg.errors.UnknownProfileError` for an unknown name,
    :class:`~omnimsg.errors.ProfileError` for a malformed file and
    :class:`~omnimsg.errors.ConfigurationError` for one that cannot be read or lies
    outside ``root``.
    """
    confined = _root(root)
    return _load(name_or_path, base_dir=confined, chain=(), root=confined)


def _read_file(path: Path, root: Path | None) -> str:
    """The text of a profile file: regular, inside ``root``, UTF-8, not too large."""
    shown = str(path)[:300]
    if root is not None:
        try:
            inside = path.resolve().is_relative_to(root)
        except (OSError, ValueError, RuntimeError) as exc:
            # RuntimeError: a loop of symbolic links (Path.resolve).
            raise ConfigurationError(f"cannot read profile file {shown}: {exc}") from None
        if not inside:
            raise ConfigurationError(
                f"profile file {shown} is outside the profile root {root}; "
                "extends may only name files inside it or built-in profiles"
            )
    data = read_regular(
        path, what="profile file", error=ConfigurationError, max_bytes=MAX_PROFILE_BYTES
    )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProfileError(shown, [("", f"not UTF-8 text: {exc.reason}")]) from None


def _no_cycle(key: str, chain: tuple[str, ...], source: str | None) -> tuple[str, ...]:
    """``chain`` with ``key`` added; a key already in it is a loop of ``extends``.

    Files are keyed by their resolved path and built-ins by name, so a file called
    ``respondio`` may extend the built-in ``respondio``.
    """
    if key in chain:
        cycle = " -> ".join((*chain, key))
        raise ProfileError(source or key, [("extends", f"profiles extend each other: {cycle}")])
    return (*chain, key)


def _load(
    name_or_path: str | Path,
    *,
    base_dir: Path | None,
    chain: tuple[str, ...],
    root: Path | None,
    source: str | None = None,
) -> Profile:
    if not isinstance(name_or_path, str | Path):
        raise ConfigurationError(
            f"a profile is named by a string or a path, got {type(name_or_path).__name__}"
        )
    if isinstance(name_or_path, Path) or str(name_or_path).endswith(".toml"):
        path = Path(name_or_path)
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        text = _read_file(path, root)
        links = _no_cycle(f"file {path.resolve()}", chain, source)
        data = _read_toml(text, str(path))
        return _from_dict(data, str(path), base_dir=path.parent, chain=links, root=root)
    name = str(name_or_path)
    if name not in builtin_profile_names():
        known = ", ".join(builtin_profile_names())
        raise UnknownProfileError(f"no built-in profile {name[:100]!r}; built-in profiles: {known}")
    _no_cycle(f"built-in {name}", chain, source)
    return _builtin(name)


def _as_instant(as_of: object) -> datetime:
    if isinstance(as_of, datetime):
        return require_aware(as_of, "as_of")
    if isinstance(as_of, date):
        return datetime.combine(as_of, time(0), tzinfo=UTC)
    raise InputError(f"as_of: expected an aware datetime or a date, got {type(as_of).__name__}")


def _bounds(value: Any) -> Iterator[datetime]:
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _bounds(getattr(value, name))
    elif isinstance(value, dict):
        for item in value.values():
            yield from _bounds(item)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, DatedEntry):
                for bound in (item.effective_from, item.effective_to):
                    if bound is not None:
                        yield instant_of(bound)


_ABSENT = object()


class _Resolver:
    """Picks, for one instant, the value in force of every dated setting."""

    def __init__(self, at: datetime, where: str) -> None:
        self.at = at
        self.where = where
        self.sources: list[str] = []
        self.uncertain: list[str] = []

    def pick(self, value: Any, path: str, missing: Any = None) -> Any:
        """The value in force; ``missing`` when no entry covers the instant (``None``:
        refuse)."""
        if not (isinstance(value, list) and value and isinstance(value[0], DatedEntry)):
            return value
        for entry in value:
            start = instant_of(entry.effective_from) if entry.effective_from else None
            end = instant_of(entry.effective_to) if entry.effective_to else None
            if (start is None or start <= self.at) and (end is None or self.at < end):
                if entry.source and entry.source not in self.sources:
                    self.sources.append(entry.source)
                if entry.uncertain and path not in self.uncertain:
                    self.uncertain.append(path)
                return entry.value
        if missing is not None:
            return missing
        raise ConfigurationError(f"{self.where}.{path}: no value in force on {self.at.isoformat()}")

    def fields(self, model: BaseModel, prefix: str) -> dict[str, Any]:
        """Every field of ``model`` as in force, nested parts resolved to value classes."""
        return {
            name: _resolved(self.pick(getattr(model, name), f"{prefix}{name}"), self, prefix + name)
            for name in type(model).model_fields
        }


_VALUE_OF: dict[type[BaseModel], type] = {
    ContentSpec: ContentLimits,
    TierSpec: TierPolicy,
    DoubleOptInSpec: DoubleOptIn,
    KeywordSetSpec: KeywordSet,
    QuietHoursSpec: QuietHours,
    RegionSpec: RegionRule,
    FrequencyLimitSpec: FrequencyLimit,
}
"""The value class each nested part of a channel spec resolves to (a table of types:
adding a setting never touches it)."""


def _resolved(value: Any, r: _Resolver, path: str) -> Any:
    if isinstance(value, BaseModel):
        return _VALUE_OF[type(value)](**r.fields(value, f"{path}."))
    if isinstance(value, dict):
        # An item of a table may be dated as a whole (a region): before its first
        # entry or after its last one, or with the value none, it is absent.
        out = {}
        for key, item in value.items():
            picked = r.pick(item, f"{path}.{key}", _ABSENT)
            if picked is not _ABSENT and picked is not None:
                out[key] = _resolved(picked, r, f"{path}.{key}")
        return out
    return value


def _capabilities(
    kind: ChannelKind, spec: ChannelSpec, at: datetime, where: str
) -> ChannelCapabilities:
    """Every setting of ``spec`` in force at ``at``, copied by name onto the value class."""
    r = _Resolver(at, where)
    fields = r.fields(spec, "")
    if fields["templates"] is None:
        # Unless a profile says otherwise, a channel has templates where they are
        # what may go after the window (W2).
        fields["templates"] = fields["after_window"] is AfterWindow.TEMPLATE
    fields["sources"] = tuple(spec.sources) + tuple(s for s in r.sources if s not in spec.sources)
    fields["uncertain"] = tuple(spec.uncertain) + tuple(
        u for u in r.uncertain if u not in spec.uncertain
    )
    return ChannelCapabilities(kind=kind, **fields)


def _spec(instance: object, attribute: object, value: ProfileSpec) -> None:
    if not isinstance(value, ProfileSpec):
        raise InputError(f"Profile.spec: expected a ProfileSpec, got {type(value).__name__}")


@attrs.frozen
class Profile:
    """A named, validated bundle of channel capabilities (SPEC W8).

    Build with :func:`load_profile` or :func:`profile_from_dict`; derive variants with
    :meth:`derive`. :attr:`raw` is the merged data the profile was validated from.
    """

    spec: ProfileSpec = attrs.field(validator=_spec)
    _raw: Mapping[str, Any] = attrs.field(repr=False, alias="raw")
    source: str = "<dict>"
    _cache: dict[tuple[ChannelKind, int], ChannelCapabilities] = attrs.field(
        factory=dict, init=False, repr=False, eq=False
    )
    _boundaries: dict[ChannelKind, list[datetime]] = attrs.field(
        factory=dict, init=False, repr=False, eq=False
    )

    @property
    def raw(self) -> dict[str, Any]:
        """The merged data the profile was validated from, as a new copy on each access.

        Built-in profiles are loaded once and shared, so changing what this returns
        changes nothing else; derive a variant with :meth:`derive` instead.
        """
        return copy.deepcopy(dict(self._raw))

    def __reduce__(self) -> tuple[Any, tuple[Mapping[str, Any], str]]:
        # The validated spec holds pydantic's generic classes, which pickle cannot
        # name: a pickled profile is its data, validated again when it is loaded.
        return _rebuilt, (self._raw, self.source)

    @property
    def name(self) -> str:
        """The profile's name (``respondio``, or the ``name`` of a profile file)."""
        return self.spec.name

    @property
    def description(self) -> str:
        """The profile's description in words (empty when the file gives none)."""
        return self.spec.description

    @property
    def kinds(self) -> tuple[ChannelKind, ...]:
        """The channel kinds this profile defines, in declaration order."""
        return tuple(self.spec.channels)

    def capabilities(
        self, kind: str | ChannelKind, *, as_of: date | datetime
    ) -> ChannelCapabilities:
        """What ``kind`` allows under this profile as of an instant (or a date, 00:00 UTC).

        Raises :class:`~omnimsg.errors.UnknownChannelError` if the kind is unknown or
        not in this profile, :class:`~omnimsg.errors.NaiveDatetimeError` for a naive
        ``as_of``.
        """
        kind = parse_channel_kind(kind)
        spec = self.spec.channels.get(kind)
        if spec is None:
            defined = ", ".join(k.value for k in self.kinds)
            raise UnknownChannelError(
                f"profile {self.name!r} does not define channel {kind.value!r}; "
                f"it defines: {defined}"
            )
        at = _as_instant(as_of)
        bounds = self._boundaries.get(kind)
        if bounds is None:
            bounds = sorted(set(_bounds(spec)))
            self._boundaries[kind] = bounds
        key = (kind, bisect.bisect_right(bounds, at))
        caps = self._cache.get(key)
        if caps is None:
            caps = _capabilities(kind, spec, at, f"{self.name}.channels.{kind.value}")
            self._cache[key] = caps
        return caps

    def derive(self, name: str, overrides: Mapping[str, Any] | None = None) -> Profile:
        """A new profile: this one with ``overrides`` merged in (tables merge, values replace).

        ``profile.derive("mine", {"channels": {"viber": {"chatbot_free_per_month": 0}}})``
        """
        if not isinstance(name, str):
            raise InputError(f"name: expected text, got {type(name).__name__}")
        if overrides is not None and not isinstance(overrides, Mapping):
            raise ProfileError(
                f"{self.source} derived as {name}",
                [("", f"overrides must be a table, got {type(overrides).__name__}")],
            )
        _check_nesting(overrides, f"{self.source} derived as {name}")
        raw = _merge(self.raw, copy.deepcopy(dict(overrides or {})))
        raw["name"] = name
        source = f"{self.source} derived as {name}"
        return Profile(spec=_validate(raw, source), raw=raw, source=source)


def _rebuilt(raw: Mapping[str, Any], source: str) -> Profile:
    """A pickled profile loaded again: its data validated as it was when built."""
    data = copy.deepcopy(dict(raw))
    return Profile(spec=_validate(data, source), raw=data, source=source)
