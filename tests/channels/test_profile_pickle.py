"""A profile survives pickling (SPEC W8): a worker process can be handed one.

The validated spec holds pydantic's generic classes, which pickle cannot name, so a
profile could not be pickled at all (``PicklingError``); it now travels as its data
and is validated again where it is loaded.
"""

from __future__ import annotations

import copy
import pickle
from datetime import date

import pytest

from omnimsg import load_profile, profile_from_dict
from omnimsg.channels.kinds import ChannelKind


@pytest.mark.parametrize("name", ["official", "respondio"])
def test_w8_a_built_in_profile_pickles_equal(name: str) -> None:
    profile = load_profile(name)
    back = pickle.loads(pickle.dumps(profile))
    assert back == profile
    assert back.source == profile.source
    assert back.raw == profile.raw


def test_w8_a_derived_profile_pickles_with_its_overrides() -> None:
    derived = load_profile("official").derive(
        "line-5", {"channels": {"line": {"monthly_quota": 5}}}
    )
    back = pickle.loads(pickle.dumps(derived))
    assert back == derived
    assert back != load_profile("official")
    caps = back.capabilities(ChannelKind.LINE, as_of=date(2026, 1, 1))
    assert caps.monthly_quota == 5


def test_w8_a_pickled_profile_shares_nothing_with_the_original() -> None:
    data = load_profile("official").raw
    profile = profile_from_dict(data)
    back = pickle.loads(pickle.dumps(profile))
    changed = back.raw
    changed["description"] = "changed"
    assert profile.raw == data
    assert copy.deepcopy(profile) == profile
