"""The full fault-injection run of issue 17 on the production shape, with figures.

Real `roundtable worker` processes (two at a time) on PostgreSQL and a Redis of the run's
own, the calendar fakes and a loopback SMTP server. While interviews are booked and some
cancelled: 20 SIGKILLs of a worker while it delivers (each replaced at once), provider fakes
failing 30% of calls (half of them after doing the work: lost answers), a revoked Google
grant, and a 60 s broker outage. Prints mails delivered and duplicated (by Message-ID at
the SMTP server), calendars and sync states left wrong, and the time from the last fault to
the last delivery. Worker settings are the defaults unless --short-waits (the test's).

    .venv/bin/python bench/faults_bench.py [--kills 20] [--outage 60] [--interviews 30]
        [--short-waits] [--postgres postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.config import Settings
from app.db import create_engine, create_session_factory
from app.migrate import upgrade
from tests.conftest import SECRET
from tests.factories import make_world
from tests.workers.fault_run import run
from tests.workers.fault_shape import Scenario, start_shape, stop_shape


async def fresh_database(admin_url: str) -> str:
    name = f"roundtable_faults_bench_{int(time.time())}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))


async def drop_database(admin_url: str, url: str) -> None:
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{urlsplit(url).path[1:]}" WITH (FORCE)')
    finally:
        await admin.close()


async def main(args: argparse.Namespace) -> int:
    url = await fresh_database(args.postgres)
    await asyncio.to_thread(upgrade, url)
    defaults = Scenario()
    scenario = Scenario(
        kills=args.kills,
        kill_every_seconds=args.kill_every,
        outage_seconds=args.outage,
        interviews=args.interviews,
        cancelled=max(2, args.interviews // 4),
        booking_pause_seconds=args.pause,
        worker_env=defaults.worker_env if args.short_waits else {},
        settle_deadline_seconds=900,
    )
    engine = create_engine(Settings(database_url=url, secret_key=SECRET))
    shape, servers = start_shape(url, engine, Path(tempfile.mkdtemp()), SECRET, scenario)
    try:
        async with create_session_factory(engine)() as session:
            world = await make_world(session)
            await session.commit()
        report = await run(shape, world, scenario)
    finally:
        stop_shape(shape, servers)
        await engine.dispose()
        await drop_database(args.postgres, url)
    waits = "short (the test's)" if args.short_waits else "defaults"
    print(f"worker waits: {waits}; logs in {shape.processes.log_dir}")
    for line in report.lines():
        print(line)
    for problem in [
        *report.missing,
        *report.failed_rows,
        *report.calendar_mismatches,
        *report.unsettled,
    ]:
        print("  problem:", problem)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--kill-every", type=float, default=3.0, help="seconds between kills")
    parser.add_argument("--outage", type=float, default=60.0, help="broker outage, seconds")
    parser.add_argument("--interviews", type=int, default=30)
    parser.add_argument("--pause", type=float, default=1.5, help="seconds between bookings")
    parser.add_argument("--short-waits", action="store_true")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    sys.exit(asyncio.run(main(parser.parse_args())))
