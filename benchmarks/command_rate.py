"""Figure: case commands per second through the service layer, one client.

Ours: load the case, decide, append (with hash chain and notification).
Baseline: single-row INSERT + COMMIT of an event of the same size into a table
of the same shape, on the same server, in the same run.
"""

import time
from itertools import cycle

import psycopg

from benchmarks.harness import Figure
from benchmarks.workload import (
    RAW_TABLE,
    accompany,
    open_cases,
    raw_insert_loop,
    stored_event_shape,
)
from gateways.eventstore.environment import postgres_env
from services.cases import Cases
from services.settings import Settings

ROUNDS = 3


def measure(database_url: str, commands: int = 1500, case_count: int = 20) -> Figure:
    cases = Cases(env=postgres_env(database_url, Settings(database_pool_size=4)))
    try:
        case_ids = open_cases(cases, case_count)
        targets = cycle(case_ids)
        for number in range(100):
            accompany(cases, next(targets), number)
        topic, size = stored_event_shape(database_url)
        state = b"x" * size
        ours, raw = [], []
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(RAW_TABLE)
            raw_insert_loop(conn, topic, state, 100)
            for _ in range(ROUNDS):
                started = time.perf_counter()
                raw_insert_loop(conn, topic, state, commands)
                raw.append(commands / (time.perf_counter() - started))
                started = time.perf_counter()
                for number in range(commands):
                    accompany(cases, next(targets), number)
                ours.append(commands / (time.perf_counter() - started))
    finally:
        cases.close()
    return Figure.at_least(
        "command rate, one client",
        sorted(ours)[ROUNDS // 2],
        sorted(raw)[ROUNDS // 2],
        "commands/s",
        0.5,
        rounds_ours=ours,
        rounds_raw=raw,
        event_bytes=size,
    )
