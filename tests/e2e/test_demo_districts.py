"""`simpul demo --district` walks a case through a district's own profile, against `simpul run`."""

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateways.embedded.ports import free_port
from gateways.tokens import private_key_pem, public_key_pem
from tests.e2e.conftest import simpul, simpul_run

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
    with simpul_run(env, tmp_path / "run.log"):
        demo = simpul(
            "demo",
            "--district",
            "tanjungpinang",
            "--url",
            f"http://127.0.0.1:{api_port}",
            env={**env, "SIMPUL_TOKEN_PRIVATE_KEY": private_key_pem(SIGNING_KEY)},
        )

    assert demo.returncode == 0, f"{demo.stdout[-3000:]}\n{demo.stderr[-3000:]}"
    assert "Dinas Sosial Kota Tanjungpinang, Bidang Rehabilitasi Sosial" in demo.stdout
    assert "Case TPI/" in demo.stdout
    assert "(coordinator, social)" in demo.stdout
