"""`simpul demo --district` walks a case through a district's own profile, against `simpul run`."""

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateways.embedded.ports import free_port
from gateways.tokens import private_key_pem, public_key_pem
from tests.e2e.conftest import simpul, simpul_run

SIGNING_KEY = Ed25519PrivateKey.generate()


def run_the_demo(district: str, service_env: dict[str, str], tmp_path: Path) -> str:
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
            district,
            "--url",
            f"http://127.0.0.1:{api_port}",
            env={**env, "SIMPUL_TOKEN_PRIVATE_KEY": private_key_pem(SIGNING_KEY)},
        )
    assert demo.returncode == 0, f"{demo.stdout[-3000:]}\n{demo.stderr[-3000:]}"
    return demo.stdout


def test_the_demo_runs_in_kutai_timur_through_the_pksais_approval(
    service_env: dict[str, str], tmp_path: Path
):
    """K-C3 the family decides, K-C7 the Peksos proposes, K-C8 the Ketua Pelaksana Harian
    approves and refers; the police and the school still receive their referrals."""
    stdout = run_the_demo("kutai-timur", service_env, tmp_path)

    assert "Case KUTIM/" in stdout
    assert "FamilyDecisionRecorded" in stdout
    assert stdout.count("ReferralRecommended") == 2
    assert stdout.count("RecommendationApproved, Referred") == 2
    assert "K-C8" in stdout


def test_the_demo_runs_in_tanjungpinang_as_its_dinas_sosial(
    service_env: dict[str, str], tmp_path: Path
):
    """T1-T4: Dinas Sosial's officers record, classify, refer and close; agencies hear of it."""
    demo_stdout = run_the_demo("tanjungpinang", service_env, tmp_path)

    assert "AssessmentReviewed" in demo_stdout  # T3, with the Kabid
    assert "Dinas Sosial Kota Tanjungpinang, Bidang Rehabilitasi Sosial" in demo_stdout
    assert "Case TPI/" in demo_stdout
    assert "(coordinator, social)" in demo_stdout
