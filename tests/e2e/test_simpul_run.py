"""`simpul run` starts the API with the relay and all projectors, and stops them all."""

import os
import re
import subprocess
from pathlib import Path

import httpx
import psutil
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from domain.actors import Actor
from domain.vocabulary import Agency, Role
from gateways.embedded.ports import free_port
from gateways.tokens import TokenService, public_key_pem
from tests.e2e.conftest import SIMPUL, answers, simpul, simpul_run, wait_until
from tests.support.lifecycle import a_report_body

SIGNING_KEY = Ed25519PrivateKey.generate()
# A token as it would appear in a log: three base64url parts, the first an encoded JSON object.
TOKEN_PATTERN = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]+")


def test_simpul_run_starts_the_relay_and_projectors_and_a_referral_reaches_every_view(
    service_env: dict[str, str], tmp_path: Path
):
    port = free_port()
    # The API gets the public key alone; the test mints as `simpul token` would.
    env = {
        **service_env,
        "SIMPUL_API_PORT": str(port),
        "SIMPUL_TOKEN_PUBLIC_KEY": public_key_pem(SIGNING_KEY.public_key()),
    }
    log = (tmp_path / "run.log").open("wb")
    run = subprocess.Popen([str(SIMPUL), "run"], env=env, stdout=log, stderr=subprocess.STDOUT)
    tokens = TokenService.minting(SIGNING_KEY)

    def headers(role: Role, agency: Agency = Agency.UPTD_PPA, user: str = "u") -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens.mint(Actor(user, role, agency, 'luwu-utara'))}"}

    api = httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", timeout=10)
    try:
        wait_until(lambda: answers(f"http://127.0.0.1:{port}/healthz"), what="the API")
        children = " ".join(" ".join(c.cmdline()) for c in psutil.Process(run.pid).children())
        assert "relay" in children and "project --all-agencies" in children
        assert "project --coordinator" in children

        case_id = api.post(
            "/cases", json=a_report_body(), headers=headers(Role.INTAKE_OFFICER)
        ).json()["case_id"]
        for path, body, who in (
            (
                "classification",
                {
                    "case_type": "KTA",
                    "risk_level": "high",
                    "jurisdiction": "district",
                    "emergency": False,
                },
                headers(Role.COORDINATOR),
            ),
            ("case-worker", {"case_worker_id": "rina"}, headers(Role.COORDINATOR)),
            (
                "consent",
                {"given": True, "given_by": "parent", "document_ref": "IC"},
                headers(Role.CASE_WORKER, user="rina"),
            ),
            (
                "referrals",
                {"service_type": "legal_process", "agency": "police"},
                headers(Role.CASE_WORKER, user="rina"),
            ),
        ):
            assert api.post(f"/cases/{case_id}/{path}", json=body, headers=who).status_code == 200

        police = headers(Role.AGENCY_OFFICER, Agency.POLICE)
        referrals = wait_until(
            lambda: api.get("/agencies/police/referrals", headers=police).json(),
            what="the referral in the police inbox",
        )
        assert referrals[0]["case_id"] == case_id
        office = wait_until(
            lambda: api.get("/cases", headers=headers(Role.COORDINATOR)).json()["items"],
            what="the case in the coordinator's open-case list",
        )
        assert office[0]["case_id"] == case_id
        assert all(child.is_running() for child in psutil.Process(run.pid).children()), (
            "every child process is still running"
        )
    finally:
        processes = psutil.Process(run.pid).children(recursive=True) if run.poll() is None else []
        run.terminate()
        run.wait(timeout=30)
        log.close()
    _, alive = psutil.wait_procs(processes, timeout=20)
    assert alive == []
    printed = (tmp_path / "run.log").read_text(errors="replace")
    assert TOKEN_PATTERN.search(printed) is None, "simpul run printed a token into its log"
    assert "$(.venv/bin/simpul token --user" in printed


def test_make_run_restarted_then_demoed_again_and_again_delivers_every_referral(tmp_path: Path):
    """Issue 10, defect 1, as a new user met it: `make run`, `simpul demo`, stop, `make run`
    again, `simpul demo` twice. The embedded broker starts empty each time; every demo's
    referrals must still reach every agency inbox."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("SIMPUL_")}
    env.update(
        {
            "SIMPUL_DATA_DIR": str(tmp_path / "simpul"),
            "SIMPUL_API_PORT": str(free_port()),
            "SIMPUL_RELAY_METRICS_PORT": str(free_port()),
            "SIMPUL_PROJECTOR_METRICS_PORT": str(free_port()),
            "SIMPUL_PROJECTION_METRICS_PORT": str(free_port()),
        }
    )
    demos: list[subprocess.CompletedProcess[str]] = []
    for start, demo_runs in enumerate((1, 2)):
        with simpul_run(env, tmp_path / f"run-{start}.log"):
            demos.extend(simpul("demo", env=env) for _ in range(demo_runs))
    for number, demo in enumerate(demos, start=1):
        assert demo.returncode == 0, f"demo {number}:\n{demo.stdout[-2000:]}\n{demo.stderr[-2000:]}"
        assert "did not arrive" not in demo.stdout
