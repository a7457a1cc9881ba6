"""The `simpul` command: one subcommand per process or task, each module adding its own.

- service: `run` (everything on one machine), `serve` (the API), `token`
- projections: `relay`, `project`, `projections rebuild|verify`, `replay`
- audit: `audit verify`
- database: `db setup`
- staff: `staff first-administrator`
- notify: `notify` (e-mail notices and escalations)
- demo: `demo`

Benchmarks are not part of it: they live in benchmarks/, outside the package
(`make bench`).
"""

import argparse
import logging
import signal
from collections.abc import Sequence
from types import FrameType

from gateways.cli import audit, database, demo, notify, projections, service, staff
from gateways.cli.commands import Commands


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="simpul", description=__doc__)
    commands = Commands(top.add_subparsers(dest="command", required=True))
    for module in (service, demo, projections, audit, database, staff, notify):
        module.add_commands(commands)
    return top


def _stop_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    args = parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        return 0
