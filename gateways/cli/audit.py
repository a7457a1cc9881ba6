"""`simpul audit verify`: the store's hash chain and the access log's, against published roots.

`simpul demo` calls ``verify_event_store`` too, so the demo shows exactly what
an auditor running the command would see.

Each chain has its own root, printed (and kept in an anchors file) on a line
of its own: ``simpul-root:v1:...`` for the events, ``simpul-access-root:v1:...``
for the access log. Roots published before the access log was chained are
events' roots of the same form, and verify as before.
"""

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import psycopg
from tqdm import tqdm

from gateways.cli.commands import Commands
from gateways.eventstore.chain import AccessLogRoot, ChainRoot, MalformedRoot, parse_root
from gateways.eventstore.verify import (
    AccessLogVerification,
    StoreVerification,
    count_access_entries,
    count_events,
    verify_access_log,
    verify_store,
)
from gateways.runtime import database_url
from services.settings import Settings

EXIT_TAMPERED = 1
EXIT_USAGE = 2
NO_DATABASE = "No database: set SIMPUL_DATABASE_URL, or start the service with `simpul run`."

Root = ChainRoot | AccessLogRoot


def read_anchors(path: Path) -> list[Root]:
    """Roots kept in a file, one per line; text after '#' is a comment."""
    if not path.exists():
        return []
    anchors: list[Root] = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            anchors.append(parse_root(text))
        except MalformedRoot as error:
            raise MalformedRoot(f"{path}:{number}: {error}") from None
    return anchors


def verify_event_store(
    database: str,
    out: TextIO,
    *,
    anchors: Sequence[Root] = (),
    anchors_file: Path | None = None,
    show_progress: bool = True,
) -> int:
    """Verify the whole store and the access log, print both outcomes and roots;
    0 if both are intact, 1 if either was tampered with."""
    checked = list(anchors) + (read_anchors(anchors_file) if anchors_file else [])
    event_anchors = [anchor for anchor in checked if isinstance(anchor, ChainRoot)]
    access_anchors = [anchor for anchor in checked if isinstance(anchor, AccessLogRoot)]
    with psycopg.connect(database, autocommit=True) as conn:
        total = count_events(conn)
        with tqdm(
            total=total, unit=" events", desc="verifying", disable=not show_progress, leave=False
        ) as bar:
            result = verify_store(conn, anchors=event_anchors, progress=bar.update)
        entries = count_access_entries(conn)
        with tqdm(
            total=entries,
            unit=" entries",
            desc="verifying the access log",
            disable=not show_progress,
            leave=False,
        ) as bar:
            access = verify_access_log(conn, anchors=access_anchors, progress=bar.update)
    out.write(describe(result, anchors_given=len(event_anchors)))
    out.write(describe_access_log(access, anchors_given=len(access_anchors)))
    intact = result.intact and access.intact
    if intact and anchors_file is not None:
        roots = [root for root in (result.root, access.root) if root is not None]
        if roots:
            verified_at = datetime.now(UTC).isoformat(timespec="seconds")
            with anchors_file.open("a") as kept:
                for root in roots:
                    kept.write(f"{root}  # verified {verified_at}\n")
            out.write(f"Roots appended to {anchors_file}\n")
    return 0 if intact else EXIT_TAMPERED


def describe(result: StoreVerification, *, anchors_given: int = 0) -> str:
    lines = []
    rate = f"{result.events_per_second:,.0f} events/s"
    if result.intact:
        if result.events == 0:
            lines.append("The event store is empty: nothing to verify.")
        else:
            lines.append(
                f"Verified {result.events:,} events in {result.seconds:.2f} s ({rate}): "
                "the hash chain is intact."
            )
    else:
        assert result.problem is not None
        lines.append(f"TAMPERING DETECTED after {result.events:,} intact events ({rate}):")
        lines.append(f"  {result.problem.describe()}")
    if anchors_given:
        lines.append(f"Published roots checked: {result.anchors_checked} of {anchors_given}")
    if result.root is not None:
        label = "Chain root" if result.intact else "Chain root up to the break"
        lines.append(f"{label}: {result.root}")
        if result.intact:
            lines.append(
                "Publish or record this root outside the server; verify later with "
                "--anchor to prove the history up to it was not rewritten."
            )
    return "\n".join(lines) + "\n"


def describe_access_log(result: AccessLogVerification, *, anchors_given: int = 0) -> str:
    lines = []
    if result.intact:
        if result.entries == 0:
            lines.append("The access log is empty: nothing to verify.")
        else:
            lines.append(
                f"Verified {result.entries:,} access log entries in {result.seconds:.2f} s: "
                "the access log's chain is intact."
            )
    else:
        assert result.problem is not None
        lines.append(f"ACCESS LOG TAMPERING DETECTED after {result.entries:,} intact entries:")
        lines.append(f"  {result.problem.describe()}")
    if anchors_given:
        lines.append(
            f"Published access-log roots checked: {result.anchors_checked} of {anchors_given}"
        )
    if result.root is not None:
        label = "Access-log root" if result.intact else "Access-log root up to the break"
        lines.append(f"{label}: {result.root}")
    return "\n".join(lines) + "\n"


def audit_verify(args: argparse.Namespace) -> int:
    """Verify the whole event store's hash chain; exit 1 naming the first break if tampered."""
    database = database_url(Settings())
    if database is None:
        print(NO_DATABASE)
        return EXIT_USAGE
    try:
        anchors = [parse_root(text) for text in args.anchor]
        return verify_event_store(
            database, sys.stdout, anchors=anchors, anchors_file=args.anchors_file
        )
    except MalformedRoot as error:
        print(error)
        return EXIT_USAGE


def add_commands(commands: Commands) -> None:
    audit = commands.group("audit", "check the event store's and the access log's hash chains")
    verify = audit.add("verify", audit_verify)
    verify.add_argument(
        "--anchor",
        action="append",
        default=[],
        metavar="ROOT",
        help="a root printed by an earlier verify (simpul-root:v1:... or "
        "simpul-access-root:v1:...); the chain must pass through it",
    )
    verify.add_argument(
        "--anchors-file",
        type=Path,
        default=None,
        metavar="PATH",
        help="check every root kept in this file, then append today's (keep it off the server)",
    )
