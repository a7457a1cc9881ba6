"""`simpul demo --district` walks a case through a district's own profile, against `simpul run`."""

import subprocess
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateways.embedded.ports import free_port
from gateways.tokens import private_key_pem, public_key_pem
from tests.e2e.conftest import SIMPUL, wait_until

SIGNING_KEY = Ed25519PrivateKey.generate()


def test_the_demo_runs_in_tanjungpinang_as_its_dinas_sosial(
    service_env: dict[str, str], tmp_path: Path
):
    """T1-T4: Dinas Sosial's officers record, classify, refer and close; agencies hear of it."""
    api_port = free_port()
    env = {
        **service_env,
        "SIMPUL_API_PORT": str(api_port),
        "SIMPUL_TOKEN_PUBLIC_KEY": public_key_pem(SIGNING_KEY.public_key()),
    }
    log = (tmp_path / "run.log").open("wb")
    run = subprocess.Popen([str(SIMPUL), "run"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: _healthy(api_port), what="the API to answer")
        demo = subprocess.run(
            [
                str(SIMPUL),
                "demo",
                "--district",
                "tanjungpinang",
                "--url",
                f"http://127.0.0.1:{api_port}",
            ],
            env={**env, "SIMPUL_TOKEN_PRIVATE_KEY": private_key_pem(SIGNING_KEY)},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        run.terminate()
        run.wait(timeout=60)
        log.close()

    assert demo.returncode == 0, f"{demo.stdout[-3000:]}\n{demo.stderr[-3000:]}"
    assert "Dinas Sosial Kota Tanjungpinang, Bidang Rehabilitasi Sosial" in demo.stdout
    assert "Case TPI/" in demo.stdout
    assert "(coordinator, social)" in demo.stdout


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
