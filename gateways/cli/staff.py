"""`simpul staff first-administrator`: the first office administrator of a deployment.

A fresh deployment has no account that could invite anyone; this command (run once,
by whoever deploys, with the database's settings) makes the first office
administrator and prints their invitation code, which they accept with a password
(POST /api/v1/invitations/acceptance). `simpul run` does the same on its own.
"""

import argparse
import sys

from domain.vocabulary import Agency
from gateways import runtime
from gateways.cli.commands import Commands
from services.accounts import Accounts, EmailTaken, Invitation
from services.settings import Settings

DEVELOPMENT_ADMINISTRATOR = "admin@simpul.localhost"


def first_administrator(args: argparse.Namespace) -> int:
    """Make the first office administrator of a district and print their invitation code."""
    settings = Settings()
    database = runtime.database_url(settings)
    if database is None:
        print("simpul staff needs SIMPUL_DATABASE_URL", file=sys.stderr)
        return 2
    cases = runtime.open_cases(settings, database)
    try:
        accounts = runtime.accounts(cases, settings)
        district = args.district or settings.default_district
        if accounts.has_administrator(district) and not args.another:
            print(f"{district} has an office administrator already (--another to add one)")
            return 1
        try:
            invitation = accounts.create_first_administrator(
                email=args.email, display_name=args.name, district=district, agency=args.agency
            )
        except EmailTaken:
            print("another account already has this e-mail address", file=sys.stderr)
            return 1
        print(invitation_text(invitation, f"http://{settings.api_host}:{settings.api_port}"))
        return 0
    finally:
        cases.close()


def ensure_development_administrator(accounts: Accounts, district: str, url: str) -> str:
    """`simpul run`: the first administrator if the district has none, and how to log in."""
    if accounts.has_administrator(district):
        return f"Log in as the office administrator {DEVELOPMENT_ADMINISTRATOR} at {url}/"
    invitation = accounts.create_first_administrator(
        email=DEVELOPMENT_ADMINISTRATOR,
        display_name="Administrator",
        district=district,
        agency=Agency.UPTD_PPA,
    )
    return (
        f"First office administrator of {district}: {DEVELOPMENT_ADMINISTRATOR}\n"
        + invitation_text(invitation, url)
    )


def invitation_text(invitation: Invitation, url: str) -> str:
    return (
        f"Invitation code (valid until {invitation.expires_at:%Y-%m-%d %H:%M} UTC, once): "
        f"{invitation.code}\n"
        f"Open {url}/invitation, enter the code and a password of 12 characters or more, add "
        "the second-factor key it shows to an authenticator app, and log in at "
        f"{url}/ (the README's 'Working in the browser'). Or over the API:\n"
        f"  curl -s -X POST {url}/api/v1/invitations/acceptance -H 'Content-Type: "
        "application/json' \\\n"
        f'    -d \'{{"invitation_code": "{invitation.code}", "password": "<your password>"}}\''
    )


def add_commands(commands: Commands) -> None:
    staff = commands.group("staff", "accounts of the people who work in Simpul")
    parser = staff.add("first-administrator", first_administrator)
    parser.add_argument("--email", required=True)
    parser.add_argument("--name", required=True, help="the administrator's name")
    parser.add_argument("--district", help="the district (default: SIMPUL_DEFAULT_DISTRICT)")
    parser.add_argument(
        "--agency", type=Agency, default=Agency.UPTD_PPA, choices=list(Agency), metavar="AGENCY"
    )
    parser.add_argument(
        "--another", action="store_true", help="add one even if the district has one"
    )
