"""The public API is what ``omnimsg.__all__`` says: sorted, importable, nothing private."""

from __future__ import annotations

import omnimsg


def _isort_key(name: str) -> tuple[int, str]:
    # constants, then classes, then functions: the order ruff's RUF022 keeps
    kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return (kind, name)


def test_all_is_sorted_and_unique() -> None:
    names = list(omnimsg.__all__)
    assert names == sorted(names, key=_isort_key)
    assert len(names) == len(set(names))


def test_every_exported_name_exists_and_is_public() -> None:
    for name in omnimsg.__all__:
        assert not name.startswith("_")
        assert getattr(omnimsg, name) is not None


def test_every_public_attribute_is_exported() -> None:
    modules = {
        "audiences",
        "audit",
        "broadcasts",
        "channels",
        "clock",
        "contacts",
        "delivery",
        "errors",
        "phones",
        "policy",
        "protocols",
        "segments",
        "state",
        "stores",
        "testing",
        "transports",
        "cli",
    }
    # "@py_builtins" and the like: pytest's assertion rewriting of the package whose
    # entry point (the omnimsg plugin) it loaded, not names of omnimsg's.
    public = {n for n in dir(omnimsg) if not n.startswith(("_", "@"))} - modules
    assert public == set(omnimsg.__all__)
