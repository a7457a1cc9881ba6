"""The server the browser tests talk to: `simpul run`, as a newcomer's `make run` starts it
(the API with the relay, the agency and coordinator projectors and the embedded
Kafka-protocol broker), and the people who log in to it, made the way an office makes them.

The server is a child process over real HTTP on a free 127.0.0.1 port, against a database
of its own on the tests' PostgreSQL, in development mode with a data folder of its own (the
token key pair, the account key, the broker's data are kept there, as `simpul run` keeps
them), so `simpul staff first-administrator` and `simpul token` run beside it see the same
keys.
"""

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from gateways.embedded.ports import free_port
from services.second_factor import STEP_SECONDS, code_at, step_at
from tests.support.infrastructure import TEST_SEARCH_KEY
from tests.support.lifecycle import a_report_body

SIMPUL = Path(sys.executable).parent / "simpul"
INVITATION_CODE = re.compile(r"Invitation code \(valid until [^)]*\): (\S+)")


@dataclass
class StaffAccount:
    """Someone with an accepted invitation: what they type at the login form."""

    email: str
    password: str
    totp_secret: str
    last_code_step: int | None = field(default=None, repr=False)

    def one_time_code(self) -> str:
        """The code an authenticator app shows now, never one handed out before.

        The server accepts a code of the step before, now or after, and each step once; the
        step before is not offered, since it may have passed by the time the form arrives.
        When both of the others were used, wait for the next step."""
        while True:
            now = step_at(datetime.now(UTC))
            for step in (now, now + 1):
                if self.last_code_step is None or step > self.last_code_step:
                    self.last_code_step = step
                    return code_at(self.totp_secret, step)
            time.sleep(STEP_SECONDS - time.time() % STEP_SECONDS + 0.1)


class SimpulServer:
    """`simpul run` on a free port of 127.0.0.1; its output is kept in ``log_path``."""

    def __init__(self, database_url: str, data_dir: Path, log_path: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = {
            key: value for key, value in os.environ.items() if not key.startswith("SIMPUL_")
        }
        self.env.update(
            {
                "SIMPUL_DATABASE_URL": database_url,
                "SIMPUL_DATA_DIR": str(data_dir),
                "SIMPUL_DATABASE_POOL_SIZE": "4",
                "SIMPUL_SEARCH_KEY": TEST_SEARCH_KEY,
                "SIMPUL_API_HOST": "127.0.0.1",
                "SIMPUL_API_PORT": str(self.port),
                "SIMPUL_RELAY_METRICS_PORT": str(free_port()),
                "SIMPUL_PROJECTOR_METRICS_PORT": str(free_port()),
                "SIMPUL_PROJECTION_METRICS_PORT": str(free_port()),
            }
        )
        self.api = httpx.Client(base_url=f"{self.base_url}/api/v1", timeout=20)
        self.process: subprocess.Popen[bytes] | None = None
        self._accounts = 0

    def start(self, *, timeout: float = 180) -> "SimpulServer":
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(SIMPUL), "run", "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"simpul run did not start:\n{self.output()[-4000:]}")
            time.sleep(0.2)
        return self

    def _answers(self) -> bool:
        try:
            return httpx.get(f"{self.base_url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        self.api.close()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def simpul(self, *arguments: str) -> str:
        """A `simpul` command against the server's database and keys; its standard output."""
        done = subprocess.run(
            [str(SIMPUL), *arguments],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"simpul {' '.join(arguments)}:\n{done.stdout}{done.stderr}"
        return done.stdout

    def unique_email(self, who: str) -> str:
        """A fresh address per account: the stories share one directory."""
        self._accounts += 1
        return f"{who}.{self._accounts}.{os.getpid()}@uptd.example"

    # ---- People, made as an office makes them ----

    def administrator(self, *, password: str = "kopi tubruk di pagi hari") -> StaffAccount:
        """An office administrator of the default district, made as a deployment makes its
        first one (`simpul staff first-administrator`), who has accepted the invitation."""
        email = self.unique_email("admin")
        printed = self.simpul(
            "staff", "first-administrator", "--email", email, "--name", "Admin", "--another"
        )
        found = INVITATION_CODE.search(printed)
        assert found is not None, printed
        return self.accept(email, found.group(1), password)

    def accept(self, email: str, invitation_code: str, password: str) -> StaffAccount:
        """POST /api/v1/invitations/acceptance, as the README walks it with curl."""
        answer = self.api.post(
            "/invitations/acceptance",
            json={"invitation_code": invitation_code, "password": password},
        )
        assert answer.status_code == 200, answer.text
        return StaffAccount(email, password, answer.json()["secret"])

    def login_token(self, account: StaffAccount) -> str:
        """POST /api/v1/login: the account's bearer token for the API."""
        answer = self.api.post(
            "/login",
            json={
                "email": account.email,
                "password": account.password,
                "one_time_code": account.one_time_code(),
            },
        )
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["access_token"]
        return token

    def invited(
        self,
        by: StaffAccount,
        role: str,
        *,
        agency: str = "uptd_ppa",
        password: str = "teh manis hangat sore hari",
    ) -> StaffAccount:
        """Someone ``by`` (an administrator) invited with ``role``, who has accepted."""
        email = self.unique_email(role)
        answer = self.api.post(
            "/staff",
            headers={"Authorization": f"Bearer {self.login_token(by)}"},
            json={"email": email, "display_name": "Rina Wulandari", "role": role, "agency": agency},
        )
        assert answer.status_code in (200, 201), answer.text
        return self.accept(email, answer.json()["invitation_code"], password)

    def reported_case(self, **report: Any) -> str:
        """A case an intake officer recorded (a development token, as `simpul token` mints
        one for a user outside the directory); its id."""
        token = self.simpul(
            "token", "--user", "siti.intake", "--role", "intake_officer", "--agency", "uptd_ppa"
        ).strip()
        answer = self.api.post(
            "/cases",
            headers={"Authorization": f"Bearer {token}"},
            json=a_report_body(**report),
        )
        assert answer.status_code in (200, 201), answer.text
        case_id: str = answer.json()["case_id"]
        return case_id
