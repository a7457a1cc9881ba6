"""python -m benchmarks: every figure (make bench), the audit measurements, or propagation."""

import argparse
import logging
import sys
import tempfile
from pathlib import Path

from benchmarks import search_figure
from benchmarks.audit import run_benchmarks as run_audit
from benchmarks.harness import BenchDatabases, table
from benchmarks.propagation import measure_propagation
from benchmarks.run import main as run_all
from services.settings import Settings


def run_search(cases: int, searches: int, admin_url: str | None) -> int:
    with tempfile.TemporaryDirectory(prefix="simpul-bench-") as scratch:
        databases = BenchDatabases(Path(scratch), admin_url)
        try:
            with databases.fresh("search") as url:
                figures = search_figure.measure(url, cases=cases, searches=searches)
        finally:
            databases.close()
    print(table(figures))
    for figure in figures:
        print(f"{figure.name}: {figure.detail}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    which = parser.add_subparsers(dest="which")
    everything = which.add_parser("all", help="every figure as a ratio to its raw baseline")
    everything.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    everything.add_argument("--results", type=Path, default=Path("bench-results.json"))
    audit = which.add_parser("audit", help="verification rate, access-logging cost, timeline")
    audit.add_argument("--events", type=int, default=100_000)
    audit.add_argument("--reads", type=int, default=2000)
    audit.add_argument("--timeline-events", type=int, default=1000)
    audit.add_argument(
        "--admin-url",
        default=None,
        help="a PostgreSQL where a scratch database may be created; default: a "
        "throwaway embedded one (durable, like a deployment)",
    )
    propagation = which.add_parser(
        "propagation", help="commit to visible in an agency projection, through relay and broker"
    )
    propagation.add_argument("--events", type=int, default=200)
    propagation.add_argument("--rate", type=float, default=20.0, help="commands per second")
    propagation.add_argument("--agency", default="police")
    search = which.add_parser(
        "search", help="the office's search on N cases, against a raw btree lookup"
    )
    search.add_argument("--cases", type=int, default=100_000)
    search.add_argument("--searches", type=int, default=300)
    search.add_argument(
        "--admin-url", default=None, help="a PostgreSQL where a scratch database may be created"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.which == "audit":
        return run_audit(
            sys.stdout,
            events=args.events,
            reads=args.reads,
            timeline_events=args.timeline_events,
            admin_url=args.admin_url,
        )
    if args.which == "search":
        return run_search(args.cases, args.searches, args.admin_url)
    if args.which == "propagation":
        result = measure_propagation(
            Settings(), events=args.events, rate=args.rate, agency=args.agency
        )
        print(result.report())
        return 0
    return run_all(
        quick=getattr(args, "quick", False),
        results=getattr(args, "results", Path("bench-results.json")),
    )


if __name__ == "__main__":
    sys.exit(main())
