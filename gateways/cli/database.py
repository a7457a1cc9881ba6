"""`simpul db setup`: create or migrate the event store as its owner, and set up the service role.

Run it with SIMPUL_DATABASE_URL naming the owner (at installation and after
every upgrade, before the processes start); run every process with a URL
naming the service role. See ``gateways/eventstore/roles.py`` for what each
may do.
"""

import argparse
import sys
from typing import cast

import psycopg

from gateways import runtime
from gateways.cli.commands import Commands
from gateways.eventstore.postgres import ChainedPostgresRecorder
from gateways.eventstore.roles import RoleSetupRefused, StoreTables, set_up_service_role
from services.settings import Settings


def setup(args: argparse.Namespace) -> int:
    """Create or migrate the event store as its owner, and give the service role its rights."""
    settings = Settings()
    database = runtime.database_url(settings)
    if database is None:
        print("set SIMPUL_DATABASE_URL to the event store's owner", file=sys.stderr)
        return 2
    role = args.service_role or settings.database_service_role
    cases = runtime.open_cases(settings, database, set_up=True)
    try:
        tables = StoreTables.of(cast(ChainedPostgresRecorder, cases.recorder))
    finally:
        cases.close()
    try:
        with psycopg.connect(database, autocommit=True) as conn:
            done = set_up_service_role(conn, tables, role)
    except RoleSetupRefused as refused:
        print(f"set-up refused: {refused}", file=sys.stderr)
        return 2
    print("The event store's tables are created and migrated; this role owns them.")
    if done.created:
        print(f"Created the role {role} (LOGIN, no password: set one as an administrator).")
    if done.schemas_handed_over:
        print(f"Read-model schemas handed to {role}: {', '.join(done.schemas_handed_over)}")
    print(
        f"Run the API, the relay and the projectors as {role}: it may read the store and "
        "append to it, and only insert into the access log."
    )
    return 0


def add_commands(commands: Commands) -> None:
    database = commands.group("db", "set up the event store's database")
    setup_parser = database.add("setup", setup)
    setup_parser.add_argument(
        "--service-role",
        default=None,
        metavar="ROLE",
        help="the role processes connect as (default SIMPUL_DATABASE_SERVICE_ROLE)",
    )
