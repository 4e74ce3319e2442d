"""A dispatcher worker run as a process of its own by ``test_faults.py``.

    python fault_worker.py --store URL --tenant T --plan FILE --log FILE
        [--owner worker-1] [--lease 30] [--crash RECIPIENT=RuntimeError ...]
        [--hang-after N]

It opens the store with :func:`omnimsg.stores.open.open_store`, reads the plan's
JSON Lines and runs :class:`omnimsg.delivery.Dispatcher` over them with the wall
clock, until every send is settled. Its transport appends each request's key to
the ``--log`` file, opened with ``O_APPEND``, in one ``write`` per send, before it
answers ACCEPTED: a process killed between that write and the ledger's SENT leaves
the key in the log and its entry SENDING. ``--crash RECIPIENT=ERROR`` makes the
transport raise ``RuntimeError`` or ``ValueError`` for that recipient instead
(nothing logged). ``--hang-after N`` makes it stop for good once the Nth key is
written, before answering: a kill then lands exactly in that window.

Exit codes: 0 with the report's counts as one JSON line on stdout; 2 when omnimsg
raised (``<ErrorClass>: <message>`` on stderr, the class first so a test reads it
from the first line); anything else is a crash of the worker itself.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import timedelta

from omnimsg.delivery import Dispatcher
from omnimsg.errors import OmnimsgError
from omnimsg.stores.open import open_store
from omnimsg.transports import SendRequest, SendResult, SendStatus

EXIT_OMNIMSG_ERROR = 2

_ERRORS: dict[str, type[Exception]] = {"RuntimeError": RuntimeError, "ValueError": ValueError}


class LoggingTransport:
    """Appends each request's key to a log, then accepts it; raises for scripted recipients."""

    def __init__(
        self, log: str, crashes: dict[str, type[Exception]], hang_after: int | None = None
    ) -> None:
        self.fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.crashes = crashes
        self.hang_after = hang_after
        self.written = 0

    def send(self, request: SendRequest, /) -> SendResult:
        error = self.crashes.get(request.recipient)
        if error is not None:
            raise error(f"scripted crash for {request.recipient}")
        line = (request.idempotency_key + "\n").encode("ascii")
        if os.write(self.fd, line) != len(line):  # one write: a line is whole or absent
            raise OSError("short write to the send log")
        self.written += 1
        if self.written == self.hang_after:
            while True:  # until killed: the platform has it, the ledger says SENDING
                time.sleep(60)
        return SendResult(
            idempotency_key=request.idempotency_key,
            status=SendStatus.ACCEPTED,
            provider_message_id=f"p-{request.idempotency_key}",
        )

    def close(self) -> None:
        os.close(self.fd)


def _crash(value: str) -> tuple[str, type[Exception]]:
    recipient, _, name = value.partition("=")
    if name not in _ERRORS:
        raise argparse.ArgumentTypeError(f"--crash: expected RECIPIENT=one of {sorted(_ERRORS)}")
    return recipient, _ERRORS[name]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", required=True)
    parser.add_argument("--tenant", default="default")
    parser.add_argument("--plan", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--owner", default="worker-1")
    parser.add_argument("--lease", type=float, default=30.0)
    parser.add_argument("--crash", type=_crash, action="append", default=[])
    parser.add_argument("--hang-after", type=int, default=None)
    args = parser.parse_args(argv)

    transport = LoggingTransport(args.log, dict(args.crash), args.hang_after)
    store = None
    try:
        store = open_store(args.store, tenant=args.tenant)
        dispatcher = Dispatcher(
            store, transport, owner=args.owner, lease=timedelta(seconds=args.lease)
        )
        with open(args.plan, encoding="utf-8") as plan:
            report = dispatcher.run(plan)
    except OmnimsgError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return EXIT_OMNIMSG_ERROR
    finally:
        transport.close()
        if store is not None:
            try:
                store.close()
            except OmnimsgError as exc:
                print(f"closing the store: {type(exc).__name__}: {exc}", file=sys.stderr)
    result = {"counts": report.counts, "corrupt": list(report.corrupt)}
    print(json.dumps(result, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
