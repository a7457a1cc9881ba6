"""The API as deployed, plus one trivial endpoint doing a raw INSERT + COMMIT: the HTTP baseline.

Run as its own process by the HTTP benchmark, so both endpoints share one
server, one event loop and one thread pool.
"""

import argparse
import uuid
from itertools import count

import uvicorn
from fastapi import APIRouter
from psycopg_pool import ConnectionPool

from benchmarks.workload import RAW_INSERT, RAW_TABLE
from gateways.runtime import api, open_cases
from gateways.tokens import TokenService, load_public_key
from services.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token-public-key", required=True, help="PEM")
    parser.add_argument("--state-bytes", type=int, default=330)
    args = parser.parse_args()

    # 32 clients share one token and one address: request limits off, the rest as deployed.
    settings = Settings(
        database_pool_size=10, api_rate_per_address=0, api_rate_per_user=0, _env_file=None
    )
    cases = open_cases(settings, args.database_url)
    app = api(cases, TokenService(load_public_key(args.token_public_key)), settings=settings)
    pool = ConnectionPool(args.database_url, min_size=10, max_size=20, kwargs={"autocommit": True})
    with pool.connection() as conn:
        conn.execute(RAW_TABLE)
    state = b"x" * args.state_bytes
    versions = count(1)
    originator = uuid.uuid4()
    raw = APIRouter()

    @raw.post("/bench/raw-insert")
    def raw_insert() -> dict[str, int]:
        version = next(versions)
        with pool.connection() as conn:
            conn.execute(RAW_INSERT, (originator, version, "bench", state), prepare=True)
        return {"version": version}

    app.include_router(raw)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
