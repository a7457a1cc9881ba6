"""Benchmark figures: each one ours against a raw baseline measured in the same run.

The machines this runs on are shared and noisy, so an absolute number means
little; the ratio to a baseline taken minutes apart on the same server does.
"""

import json
import os
import platform
import statistics
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from gateways.embedded.postgres import EmbeddedPostgres


@dataclass
class Figure:
    name: str
    ours: float
    baseline: float | None
    unit: str
    target: str
    ratio: float | None = None
    met: bool | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def at_least(
        cls, name: str, ours: float, baseline: float, unit: str, target: float, **detail: Any
    ) -> "Figure":
        return cls._against(name, ours, baseline, unit, target, at_least=True, detail=detail)

    @classmethod
    def at_most(
        cls, name: str, ours: float, baseline: float, unit: str, target: float, **detail: Any
    ) -> "Figure":
        return cls._against(name, ours, baseline, unit, target, at_least=False, detail=detail)

    @classmethod
    def _against(
        cls,
        name: str,
        ours: float,
        baseline: float,
        unit: str,
        target: float,
        *,
        at_least: bool,
        detail: dict[str, Any],
    ) -> "Figure":
        ratio = ours / baseline if baseline else None
        met = ratio is not None and (ratio >= target if at_least else ratio <= target)
        bound = ">=" if at_least else "<="
        return cls(name, ours, baseline, unit, f"{bound} {target}", ratio, met, detail)

    @classmethod
    def reported(cls, name: str, ours: float, unit: str, **detail: Any) -> "Figure":
        return cls(name, ours, None, unit, "bounded: reported", None, None, detail)


def percentile(samples: Sequence[float], fraction: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def summary(samples: Sequence[float]) -> dict[str, float]:
    return {
        "count": len(samples),
        "p50": percentile(samples, 0.50),
        "p99": percentile(samples, 0.99),
        "mean": statistics.fmean(samples) if samples else float("nan"),
    }


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def table(figures: Sequence[Figure]) -> str:
    rows = [("figure", "ours", "raw baseline", "unit", "ratio", "target", "met")]
    for figure in figures:
        rows.append(
            (
                figure.name,
                _number(figure.ours),
                _number(figure.baseline),
                figure.unit,
                _number(figure.ratio),
                figure.target,
                {True: "yes", False: "NO", None: "-"}[figure.met],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    lines.insert(1, "| " + " | ".join("-" * w for w in widths) + " |")
    return "\n".join(lines)


def write_results(path: Path, figures: Sequence[Figure], extra: dict[str, Any]) -> None:
    document = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        **extra,
        "figures": [asdict(figure) for figure in figures],
    }
    path.write_text(json.dumps(document, indent=2, default=str))


class BenchDatabases:
    """Fresh databases on one PostgreSQL server: configured, or an embedded durable one."""

    def __init__(self, work_dir: Path, admin_url: str | None = None) -> None:
        self._embedded: EmbeddedPostgres | None = None
        if admin_url is None:
            # Durable, like production: fsync and synchronous commit stay on.
            self._embedded = EmbeddedPostgres(work_dir / "postgres", durable=True).start()
            admin_url = self._embedded.url
        self.admin_url = admin_url

    @property
    def embedded(self) -> EmbeddedPostgres | None:
        return self._embedded

    @contextmanager
    def fresh(self, label: str) -> Iterator[str]:
        name = f"bench_{label}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        base, _, _ = self.admin_url.rpartition("/")
        try:
            yield f"{base}/{name}"
        finally:
            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        if self._embedded is not None:
            self._embedded.stop()
