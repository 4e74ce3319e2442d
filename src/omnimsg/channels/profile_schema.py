"""The JSON Schema of profile files, for editors and CI linters.

:func:`profile_json_schema` describes a profile file as TOML or JSON holds it: a
duration is a string such as ``"24h"`` or ``"1h30m"`` or a number of seconds, a local
time a string such as ``"08:00"``, a dated bound a date or an aware date-time, and
``"none"`` (``"unlimited"`` for a limit) stands for no value, since TOML has no null.
Point an editor at it (Taplo and *Even Better TOML* read a ``#:schema`` comment on a
TOML file's first line; VS Code's ``json.schemas`` setting for JSON), or write it to a
file with ``omnimsg profiles --schema``.

The schema checks shape and types. :func:`~omnimsg.load_profile` remains the
authority: it also refuses what a schema cannot say, such as two dated entries of one
setting that overlap or leave a gap.
"""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from omnimsg.channels.schema import ProfileSpec

__all__ = ["PROFILE_SCHEMA_ID", "profile_json_schema"]

PROFILE_SCHEMA_ID = "urn:omnimsg:schema:profile"
"""The ``$id`` of the profile schema."""

_DURATION_PATTERN = r"^\s*([0-9]+(\.[0-9]+)?\s*[wdhmsWDHMS]\s*)+$"
_CLOCK_PATTERN = r"^\s*([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?\s*$"
_NO_VALUE_WORDS = ["none", "None", "NONE", "unlimited", "Unlimited", "UNLIMITED", "off", "Off"]


class _ProfileFileSchema(GenerateJsonSchema):
    """Pydantic's schema generator, speaking of values as profile files write them."""

    def timedelta_schema(self, schema: core_schema.TimedeltaSchema) -> JsonSchemaValue:
        return {
            "anyOf": [
                {"type": "string", "pattern": _DURATION_PATTERN},
                {"type": "number", "minimum": 0},
            ],
            "description": "A duration: '24h', '7d', '1h30m', '90s', or seconds as a number.",
        }

    def time_schema(self, schema: core_schema.TimeSchema) -> JsonSchemaValue:
        return {
            "type": "string",
            "pattern": _CLOCK_PATTERN,
            "description": "A local time such as '08:00'.",
        }

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        inner = self.generate_inner(schema["schema"])
        words = {
            "type": "string",
            "enum": _NO_VALUE_WORDS,
            "description": "No value ('none'; 'unlimited' for a limit).",
        }
        return {"anyOf": [inner, words, {"type": "null"}]}


def profile_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a profile file.

    Returns:
        A new dict on each call, ready for ``json.dumps``.

    Example::

        import json
        from omnimsg.channels import profile_json_schema

        with open("profile.schema.json", "w") as out:
            json.dump(profile_json_schema(), out, indent=2)
    """
    schema = ProfileSpec.model_json_schema(schema_generator=_ProfileFileSchema)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": PROFILE_SCHEMA_ID,
        "title": "omnimsg profile",
        "description": (
            "A named bundle of channel capabilities (windows, tags, caps, tiers, "
            "quiet hours, opt-out keywords); any setting may be a list of dated entries."
        ),
        **{key: value for key, value in schema.items() if key not in ("title", "description")},
    }
