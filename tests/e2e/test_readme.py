"""The README's examples work as written, against `simpul run`.

Every ``sh`` block from "Using the API" to "Configuration" runs, in order, in one
shell, with only the ports and the path of `simpul` adapted to the test's own
servers. Each curl fails the test on an HTTP error, except the one the README
shows refused (a referral before consent), whose answer must name the rule.
"""

import re
import subprocess
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateways.embedded.ports import free_port
from gateways.tokens import private_key_pem, public_key_pem
from tests.e2e.conftest import SIMPUL, answers, simpul_run, wait_until

README = Path(__file__).resolve().parents[2] / "README.md"
SIGNING_KEY = Ed25519PrivateKey.generate()


def runnable_blocks() -> list[str]:
    text = README.read_text()
    section = text[text.index("## Using the API") : text.index("## Configuration")]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)


def adapted(block: str, api_port: int, metrics_port: str) -> str:
    block = block.replace("127.0.0.1:8000", f"127.0.0.1:{api_port}")
    block = block.replace("127.0.0.1:9466", f"127.0.0.1:{metrics_port}")
    block = block.replace(".venv/bin/simpul", str(SIMPUL))
    if "/referrals" in block:
        # The README shows this one refused: its answer must name the rule.
        return f'REFUSED=$({block.strip()})\necho "$REFUSED" | grep -q consent_required\n'
    return block.replace("curl -s ", "curl -sS --fail-with-body ")


def test_the_readme_examples_work_as_written(service_env: dict[str, str], tmp_path: Path):
    blocks = runnable_blocks()
    assert len(blocks) >= 8, "the README lost its examples"
    api_port = free_port()
    # `simpul run` (the API, which serves the README's login) and the README's shell,
    # where `simpul token` mints, both get the key pair.
    env = {
        **service_env,
        "SIMPUL_API_PORT": str(api_port),
        "SIMPUL_TOKEN_PUBLIC_KEY": public_key_pem(SIGNING_KEY.public_key()),
        "SIMPUL_TOKEN_PRIVATE_KEY": private_key_pem(SIGNING_KEY),
    }
    shell_env = env
    script = "set -euo pipefail\n" + "\n".join(
        adapted(block, api_port, env["SIMPUL_PROJECTION_METRICS_PORT"]) for block in blocks
    )
    with simpul_run(env, tmp_path / "run.log"):
        metrics = env["SIMPUL_PROJECTION_METRICS_PORT"]
        wait_until(
            lambda: answers(f"http://127.0.0.1:{metrics}/metrics"),
            what="the coordinator projector's metrics",
        )
        shell = subprocess.run(
            ["bash", "-c", script],
            env=shell_env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert shell.returncode == 0, f"{shell.stdout[-3000:]}\n{shell.stderr[-3000:]}"
    assert "case " in shell.stdout
