"""The production shape a fault run talks to: worker processes, a Redis of its own, the
calendar fakes and a loopback SMTP server (see fault_run.py)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.calendars.base import AccountInfo
from app.calendars.connections import save_connection
from app.config import Settings
from app.models import CalendarProvider, User, utcnow
from tests.calendars.conftest import token_set
from tests.fakes import google, microsoft
from tests.fakes.base import ServerThread
from tests.fakes.google import FakeGoogle
from tests.fakes.microsoft import FakeMicrosoft
from tests.workers.smtp import SmtpServer, free_port

ROUNDTABLE = [sys.executable, "-m", "app.cli"]


@dataclass(frozen=True)
class Scenario:
    kills: int = 10
    kill_every_seconds: float = 1.0
    outage_seconds: float = 3.0
    interviews: int = 10  # booked one after another while the faults go on
    booking_pause_seconds: float = 0.2
    cancelled: int = 4  # of those, cancelled later (half of them after the revocation)
    failure_rate: float = 0.3
    # Shortened waits so a short run recovers in seconds; the bench runs the defaults.
    worker_env: dict[str, str] = field(
        default_factory=lambda: {
            "ROUNDTABLE_WORKER_LEASE_SECONDS": "3",
            "ROUNDTABLE_WORKER_REPUBLISH_AFTER_SECONDS": "2",
            "ROUNDTABLE_WORKER_SWEEP_INTERVAL_SECONDS": "1",
            "ROUNDTABLE_WORKER_MIN_BACKOFF_SECONDS": "0.5",
            "ROUNDTABLE_WORKER_MAX_BACKOFF_SECONDS": "2",
            "ROUNDTABLE_WORKER_MAX_ATTEMPTS": "25",
        }
    )
    settle_deadline_seconds: float = 90


class Processes:
    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        with (self.log_dir / f"{name}.log").open("ab") as out:
            self.running[name] = subprocess.Popen(
                argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def kill(self, name: str) -> None:
        """SIGKILL the process group: the dramatiq parent and its worker child."""
        process = self.running.pop(name)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop(self, name: str) -> None:
        process = self.running.pop(name)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name)


def redis_argv(port: int) -> list[str]:
    server = shutil.which("redis-server")
    if server is None:
        raise RuntimeError("redis-server is not installed")
    return [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]


@dataclass
class Shape:
    """Everything the run talks to; started by `shape()`."""

    database_url: str
    engine: AsyncEngine
    processes: Processes
    smtp: SmtpServer
    fake_google: FakeGoogle
    fake_microsoft: FakeMicrosoft
    google_url: str
    microsoft_url: str
    redis_port: int
    env: dict[str, str] = field(default_factory=dict)

    def settings(self) -> Settings:
        return Settings(
            database_url=self.database_url,
            secret_key=self.env["ROUNDTABLE_SECRET_KEY"],
            rate_limits=False,
            **{k.removeprefix("ROUNDTABLE_").lower(): v for k, v in self.provider_env().items()},
        )

    def provider_env(self) -> dict[str, str]:
        return {
            "ROUNDTABLE_GOOGLE_CLIENT_ID": google.CLIENT_ID,
            "ROUNDTABLE_GOOGLE_CLIENT_SECRET": google.CLIENT_SECRET,
            "ROUNDTABLE_GOOGLE_API_URL": f"{self.google_url}/calendar/v3/",
            "ROUNDTABLE_GOOGLE_AUTH_URL": f"{self.google_url}/o/oauth2/v2/auth",
            "ROUNDTABLE_GOOGLE_TOKEN_URL": f"{self.google_url}/token",
            "ROUNDTABLE_MICROSOFT_CLIENT_ID": microsoft.CLIENT_ID,
            "ROUNDTABLE_MICROSOFT_CLIENT_SECRET": microsoft.CLIENT_SECRET,
            "ROUNDTABLE_MICROSOFT_API_URL": f"{self.microsoft_url}/",
            "ROUNDTABLE_MICROSOFT_AUTH_URL": f"{self.microsoft_url}/common/oauth2/v2.0/authorize",
            "ROUNDTABLE_MICROSOFT_TOKEN_URL": f"{self.microsoft_url}/common/oauth2/v2.0/token",
            "ROUNDTABLE_CALENDAR_TIMEOUT_SECONDS": "5",
        }


def start_shape(
    database_url: str, engine: AsyncEngine, log_dir: Path, secret: str, scenario: Scenario
) -> tuple[Shape, list[ServerThread]]:
    fake_google, fake_microsoft = FakeGoogle(), FakeMicrosoft()
    servers = [ServerThread(fake_google.app), ServerThread(fake_microsoft.app)]
    for server in servers:
        server.start()
    smtp = SmtpServer().__enter__()
    shape = Shape(
        database_url=database_url,
        engine=engine,
        processes=Processes(log_dir),
        smtp=smtp,
        fake_google=fake_google,
        fake_microsoft=fake_microsoft,
        google_url=servers[0].url,
        microsoft_url=servers[1].url,
        redis_port=free_port(),
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROUNDTABLE_")}
    env.update(
        ROUNDTABLE_DATABASE_URL=database_url,
        ROUNDTABLE_BROKER_URL=f"redis://127.0.0.1:{shape.redis_port}/0",
        ROUNDTABLE_SMTP_URL=smtp.url,
        ROUNDTABLE_SECRET_KEY=secret,
        ROUNDTABLE_PUBLIC_URL="https://roundtable.example.com",
        ROUNDTABLE_REMINDER_AFTER_HOURS=str(24 * 365 * 50),
        ROUNDTABLE_CALENDAR_RECONCILE_MINUTES="0",
        ROUNDTABLE_CONFERENCE_WAIT_LIMIT_SECONDS="5",
        ROUNDTABLE_WORKER_PROCESSES="1",
        ROUNDTABLE_WORKER_THREADS="4",
        **shape.provider_env(),
        **scenario.worker_env,
    )
    shape.env = env
    shape.processes.start("redis", redis_argv(shape.redis_port), dict(os.environ))
    return shape, servers


def stop_shape(shape: Shape, servers: list[ServerThread]) -> None:
    for name in list(shape.processes.running):
        shape.processes.kill(name)  # nothing to wait for: the run has been checked
    shape.smtp.__exit__()
    for server in servers:
        server.stop()


async def connect(
    session: AsyncSession, shape: Shape, user: User, provider: CalendarProvider
) -> None:
    if provider is CalendarProvider.GOOGLE:
        body, calendar_id = shape.fake_google.oauth.issue_tokens(user.email), user.email
    else:
        body = shape.fake_microsoft.oauth.issue_tokens(user.email)
        calendar_id = microsoft.calendar_id_of(user.email)
    await save_connection(
        session=session,
        settings=shape.settings(),
        user_id=user.id,
        provider=provider,
        account=AccountInfo(email=user.email, calendar_id=calendar_id),
        tokens=token_set(body),
        now=utcnow(),
    )
