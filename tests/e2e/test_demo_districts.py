"""`simpul demo --district` walks a case through a district's own profile, against `simpul run`."""

from pathlib import Path

import pytest
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


@pytest.mark.parametrize(
    ("district", "register_code", "step"),
    [("kota-batu", "BATU", "B2"), ("purwakarta", "PWK", "P2")],
)
def test_the_demo_runs_where_the_district_mediates_and_assesses_first(
    service_env: dict[str, str], tmp_path: Path, district: str, register_code: str, step: str
):
    """Kota Batu and Purwakarta run mediation (B5, P5), which the demo's case does not use;
    they assess before they classify (B2, P2) and refer without a supervisor's approval."""
    stdout = run_the_demo(district, service_env, tmp_path)

    assert f"Case {register_code}/" in stdout
    assert f"{step:<10} AssessmentRecorded" in stdout
    assert "ReferralRecommended" not in stdout


def test_the_demo_runs_in_luwu_utara_which_runs_no_optional_process(
    service_env: dict[str, str], tmp_path: Path
):
    """Lampiran II refers directly (L4.1) and has no mediation, shelter or reintegration."""
    stdout = run_the_demo("luwu-utara", service_env, tmp_path)

    assert "Case LUTRA/" in stdout
    assert "ReferralRecommended" not in stdout
