"""omnimsg's errors survive pickling and Celery's JSON results with their message and fields.

A worker's failure reaches its client as the same exception type (X5: a Celery client
learns which send's ledger entry is corrupt, which plan line is bad).
"""

from __future__ import annotations

import json
import pickle

import pytest
from celery import Celery

from omnimsg.delivery.planfile import PlanFileError
from omnimsg.errors import (
    CallbackError,
    CorruptRecordError,
    DraftError,
    InputError,
    OmnimsgError,
    ProfileError,
    SchemaVersionError,
    SegmentValidationError,
    StoreUnavailableError,
)

ERRORS = [
    ProfileError("ours.toml", [("channels.sms.window", "expected a duration")]),
    DraftError([("rate", "B10", "the send would take more than 7 days")]),
    DraftError([("", "", "not valid TOML")], "draft file drafts/mine.toml: not valid TOML"),
    SegmentValidationError([("conditions[0].field", "unknown field")]),
    CorruptRecordError("ledger", "901432b5af4e79ce", "not JSON"),
    SchemaVersionError("SQLite file 'state.db'", 2, 1),
    CallbackError("progress", ValueError("bar broke")),
    PlanFileError(3, "sends: expected a list"),
    StoreUnavailableError("redis 127.0.0.1:6379 cannot be reached"),
    InputError("now: expected an aware datetime"),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_an_error_is_rebuilt_from_its_args(error: OmnimsgError) -> None:
    for again in (
        pickle.loads(pickle.dumps(error)),
        type(error)(*json.loads(json.dumps(error.args))),
    ):
        assert type(again) is type(error)
        assert str(again) == str(error)
        assert vars(again).keys() >= {k for k in vars(error) if not k.startswith("_")}


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_an_error_crosses_a_celery_json_result_as_itself(error: OmnimsgError) -> None:
    app = Celery("omnimsg-errors", broker="memory://", backend="cache+memory://")
    app.conf.result_serializer = "json"
    backend = app.backend
    meta = json.loads(json.dumps(backend.prepare_exception(error, "json")))
    rebuilt = backend.exception_to_python(meta)
    assert type(rebuilt) is type(error)
    assert str(rebuilt) == str(error)
