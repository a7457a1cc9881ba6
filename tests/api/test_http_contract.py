"""The running server answers exactly as its OpenAPI document says, for every role.

A property-based client (schemathesis) reads /api/v1/openapi.json from the real
server over HTTP and sends what the document allows and what it forbids: every
answer must be documented (status, media type, body schema, headers), nothing
the document forbids may be accepted, nothing it allows may fail request
validation, no answer may be a 5xx, and undocumented methods get 405 with the
whole ``Allow``. Case paths are pinned to a real, referred case so that commands
reach the case service and the store. A short run in `make test`, a long one in
`make soak`.
"""

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from domain.actors import Actor
from domain.vocabulary import Agency, Role
from gateways.runtime import api
from gateways.tokens import TokenService
from services.cases import Cases
from services.settings import Settings
from tests.support.lifecycle import open_referred_case
from tests.support.servers import serving

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
HOOKS = Path(__file__).parents[1] / "support" / "contract_checks.py"
CALLERS = {
    "intake_officer": Actor("contract.intake", Role.INTAKE_OFFICER, Agency.UPTD_PPA, "luwu-utara"),
    "coordinator": Actor("contract.coordinator", Role.COORDINATOR, Agency.UPTD_PPA, "luwu-utara"),
    "agency_officer": Actor("contract.police", Role.AGENCY_OFFICER, Agency.POLICE, "luwu-utara"),
    "auditor": Actor("contract.auditor", Role.AUDITOR, Agency.PROVINCE, "luwu-utara"),
}
# The checker sends thousands of requests from one address and four users: the
# limits would answer 429 after the first second (they are tested on their own).
UNLIMITED = {
    "api_rate_per_address": 0,
    "api_rate_per_user": 0,
    "api_auth_failures_before_lockout": 0,
}


def _config(path: Path, case_id: str, referral_id: str) -> Path:
    path.write_text(
        "[checks.positive_data_acceptance]\n"
        "enabled = false\n"
        "[parameters]\n"
        f'"path.case_id" = "{case_id}"\n'
        f'"path.referral_id" = "{referral_id}"\n'
    )
    return path


@pytest.mark.contract
def test_the_running_server_answers_as_its_openapi_document_says(
    pg_cases: Cases,
    tokens: TokenService,
    soaking: bool,
    tmp_path: Path,
):
    seconds_per_role = 150 if soaking else 20
    settings = Settings(**UNLIMITED, _env_file=None)  # type: ignore[arg-type]
    with serving(api(pg_cases, tokens, settings=settings)) as url:
        office = {"Authorization": f"Bearer {tokens.mint(CALLERS['coordinator'])}"}
        with httpx.Client(base_url=url, timeout=30) as http:
            case_id = open_referred_case(http, office, {"police": "legal_process"})
            referrals = http.get(f"/api/v1/cases/{case_id}", headers=office).json()["referrals"]
        config = _config(tmp_path / "schemathesis.toml", case_id, referrals[0]["referral_id"])
        failures = []
        for number, (role, actor) in enumerate(CALLERS.items()):
            run = subprocess.run(
                [
                    str(SCHEMATHESIS),
                    "--config-file",
                    str(config),
                    "run",
                    f"{url}/api/v1/openapi.json",
                    "--header",
                    f"Authorization: Bearer {tokens.mint(actor)}",
                    "--checks",
                    "all",
                    "--exclude-checks",
                    "positive_data_acceptance",
                    "--max-time",
                    str(seconds_per_role),
                    "--workers",
                    "1",
                    *([] if soaking else ["--seed", str(1000 + number)]),
                    "--no-color",
                ],
                env={**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS)},
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=seconds_per_role * 3 + 120,
                check=False,
            )
            if run.returncode != 0:
                failures.append(f"--- as {role} ---\n{run.stdout[-12_000:]}\n{run.stderr[-2000:]}")
    assert not failures, "\n".join(failures)
