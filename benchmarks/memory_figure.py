"""Figure: peak resident memory of a full rebuild (simpul replay) of a large store."""

import os
import subprocess
import sys

from benchmarks.harness import Figure
from benchmarks.http_load import PeakMemory


def measure(database_url: str, events: int) -> Figure:
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SIMPUL_")},
        "SIMPUL_DATABASE_URL": database_url,
        "SIMPUL_PROJECTION_METRICS_PORT": "0",
    }
    replay = subprocess.Popen(
        [sys.executable, "-m", "gateways.cli", "replay"],
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    with PeakMemory(replay.pid) as memory:
        output, _ = replay.communicate()
    if replay.returncode != 0:
        raise RuntimeError(f"simpul replay failed: {output[-2000:]}")
    return Figure.reported(
        f"peak RSS of a full rebuild (simpul replay) of {events:,} events",
        memory.peak,
        "MiB",
        replay_output=output.strip().splitlines()[-1:],
    )
