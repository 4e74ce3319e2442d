"""What a dispatcher takes as a plan: a :class:`~omnimsg.broadcasts.Plan`, its JSON
Lines file, or a header and sends built by hand, each read as a header and a stream
of checked sends (:func:`open_plan`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from omnimsg._convert import to_instant
from omnimsg.broadcasts.model import FrequencyCap, Rate, sender_classes
from omnimsg.broadcasts.outcomes import PlannedSend, SendKind
from omnimsg.broadcasts.plan import Plan
from omnimsg.channels.kinds import ChannelKind, Mode
from omnimsg.channels.registry import Profile
from omnimsg.delivery.planfile import PlanHeader, read_plan
from omnimsg.errors import InputError
from omnimsg.stores._records import check_key

__all__ = ["open_plan"]


def _header_of(plan: Plan) -> PlanHeader:
    draft = plan.draft
    return PlanHeader(
        broadcast_id=draft.id,
        name=draft.name,
        start=plan.start,
        ends_by=plan.ends_by,
        profile=plan.profile.name,
        rate=draft.rate,
        frequency_cap=draft.frequency_cap,
        sender_classes=sender_classes(draft),
    )


def open_plan(source: object) -> tuple[PlanHeader, Iterable[PlannedSend], Profile | None]:
    """The header, the sends and the profile (if it carries one) of anything ``run`` takes.

    A :class:`~omnimsg.broadcasts.Plan`, a text stream of its JSON Lines, or a
    ``(PlanHeader, sends)`` pair (checked send by send as they are read). Raises
    :class:`~omnimsg.errors.InputError` for anything else.
    """
    if isinstance(source, Plan):
        planned = (send for outcome in source for send in outcome.sends)
        return _header_of(source), planned, source.profile
    if isinstance(source, tuple) and len(source) == 2 and isinstance(source[0], PlanHeader):
        sends = source[1]
        if isinstance(sends, str | bytes | Mapping) or not isinstance(sends, Iterable):
            raise InputError(f"plan: the sends must be an iterable, got {type(sends).__name__}")
        return _checked_header(source[0]), _checked_sends(sends), None
    if callable(getattr(source, "readline", None)):
        header, read = read_plan(source)  # type: ignore[arg-type]
        return header, read, None
    raise InputError(
        "plan: expected a Plan, a plan file opened as text, or (PlanHeader, sends), "
        f"got {type(source).__name__}"
    )


def _checked_header(header: PlanHeader) -> PlanHeader:
    """A header built by hand, checked as the plan file reader checks one."""
    if not isinstance(header.broadcast_id, str) or not header.broadcast_id:
        raise InputError("plan header: broadcast_id must be non-empty text")
    check_key(header.broadcast_id, "plan header broadcast_id")
    to_instant(header.start, "plan header start")
    to_instant(header.ends_by, "plan header ends_by")
    if header.rate is not None and not isinstance(header.rate, Rate):
        raise InputError("plan header: rate must be a Rate or None")
    if header.frequency_cap is not None and not isinstance(header.frequency_cap, FrequencyCap):
        raise InputError("plan header: frequency_cap must be a FrequencyCap or None")
    if header.profile is not None and not isinstance(header.profile, str):
        raise InputError("plan header: profile must be a name or None")
    return header


def _checked_send(send: object, i: int) -> PlannedSend:
    where = f"sends[{i}]"
    if not isinstance(send, PlannedSend):
        raise InputError(f"{where}: expected a PlannedSend, got {type(send).__name__}")
    for name in ("key", "contact_id", "account_id", "address", "batch"):
        check_key(getattr(send, name), f"{where}.{name}")
    if not isinstance(send.channel, ChannelKind):
        raise InputError(f"{where}.channel: expected a ChannelKind")
    if not isinstance(send.kind, SendKind) or not isinstance(send.mode, Mode):
        raise InputError(f"{where}: kind must be a SendKind and mode a Mode")
    to_instant(send.not_before, f"{where}.not_before")
    if isinstance(send.number, bool) or not isinstance(send.number, int) or send.number < 1:
        raise InputError(f"{where}.number: expected a positive whole number")
    if not isinstance(send.paid, bool) or not isinstance(send.text, str):
        raise InputError(f"{where}: paid must be a bool and text a str")
    params = send.params
    if not isinstance(params, tuple) or not all(
        isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) and isinstance(p[1], str)
        for p in params
    ):
        raise InputError(f"{where}.params: expected a tuple of (name, value) text pairs")
    for name in ("template", "tag"):
        value = getattr(send, name)
        if value is not None and not isinstance(value, str):
            raise InputError(f"{where}.{name}: expected text or None")
    return send


def _checked_sends(sends: Iterable[object]) -> Iterator[PlannedSend]:
    for i, send in enumerate(sends):
        yield _checked_send(send, i)
