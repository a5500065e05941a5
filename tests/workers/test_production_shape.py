"""The production set without Docker, wired as docker-compose.yml wires it.

PostgreSQL, a Redis of the test's own (so that it can be stopped), `roundtable migrate`,
two `roundtable api` processes and one `roundtable worker`, and a loopback SMTP server. A
booking made through one API is seen through the other, its mails reach the SMTP server,
and `/ready` goes unready while the broker is down and ready again after.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from jsonschema import Draft201909Validator
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.models import utcnow
from tests.conftest import ROOT, SECRET, make_settings
from tests.factories import make_interview, make_world
from tests.workers.conftest import NEVER_HOURS, eventually
from tests.workers.otlp import OtlpReceiver
from tests.workers.smtp import SmtpServer, free_port

ROUNDTABLE = [sys.executable, "-m", "app.cli"]


COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
# The Compose Specification's JSON schema as docker-compose 1.29.2 ships it (see the file's
# note in tests/fixtures/README.md); Docker's own CLI validates against its successor.
COMPOSE_SCHEMA: dict[str, Any] = json.loads((ROOT / "tests/fixtures/compose_spec.json").read_text())

# What this test adds to the compose environment: shorter waits, and no reminders or rate
# limits for the test clock's old interviews and its many requests from one address.
TEST_TUNING = {
    "ROUNDTABLE_REMINDER_AFTER_HOURS": str(NEVER_HOURS),
    "ROUNDTABLE_RATE_LIMITS": "off",
    "ROUNDTABLE_WORKER_PROCESSES": "1",
    "ROUNDTABLE_WORKER_THREADS": "2",
    "ROUNDTABLE_WORKER_SWEEP_INTERVAL_SECONDS": "0.5",
    "dramatiq_restart_delay": "100",
}


def observers(worker_metrics_port: int, otlp_endpoint: str) -> dict[str, str]:
    """Where this test watches from: the worker's metrics port, and traces to a loopback
    OTLP receiver exported in batches every 0.2 s (an operator's own choices, not compose's)."""
    return {
        "dramatiq_prom_host": "127.0.0.1",
        "dramatiq_prom_port": str(worker_metrics_port),
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "OTEL_TRACES_SAMPLER": "always_on",
    }


VARIABLE = re.compile(r"\$\{(\w+)(?::([?-])([^}]*))?\}")


def production_environment(
    *, database_url: str, redis_url: str, operator: dict[str, str]
) -> dict[str, str]:
    """docker-compose.yml's environment for this machine: `${VAR:-default}` as an operator
    who sets only `operator` gets it, and the compose services' addresses replaced."""
    local_service = {"postgres": database_url, "redis": redis_url}

    def interpolate(match: re.Match[str]) -> str:
        name, kind, default = match.groups()
        if name in operator:
            return operator[name]
        assert kind == "-", f"{name} must be set by the operator: {default}"
        return default

    env = {}
    for name, value in COMPOSE["services"]["api"]["environment"].items():
        value = VARIABLE.sub(interpolate, str(value))
        host = urlsplit(value).hostname if "://" in value else None
        env[name] = local_service[host] if host in COMPOSE["services"] else value
    return env


def sample(metrics: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(metrics):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                return float(found.value)
    return 0.0


class Processes:
    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        with (self.log_dir / f"{name}.log").open("ab") as out:
            self.running[name] = subprocess.Popen(
                argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def stop(self, name: str) -> None:
        process = self.running.pop(name)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name)

    def log(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text(errors="replace")


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    running = Processes(tmp_path)
    yield running
    running.stop_all()


@pytest.fixture
def otlp() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as receiver:
        yield receiver


def redis_argv(port: int) -> list[str]:
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    return [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]


async def answers(url: str, status: int = 200) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2) as http:
            return (await http.get(url)).status_code == status
    except httpx.TransportError:
        return False


BOOK = """mutation($input: BookInterviewInput!) { bookInterview(input: $input) {
  interview { id status } errors { code message } } }"""
INTERVIEW = "query($id: ID!) { interview(id: $id) { status bookedStart } }"
SLOTS = """query($id: ID!) { availableSlots(interviewId: $id, timeZone: "UTC") {
  days { slots { start } } } }"""


@pytest.mark.postgres_only
async def test_two_apis_and_a_worker_share_one_database_and_broker(
    database_url: str,
    session: AsyncSession,
    smtp: SmtpServer,
    processes: Processes,
    otlp: OtlpReceiver,
) -> None:
    redis_port, api_ports, worker_metrics_port = free_port(), (free_port(), free_port()), free_port()
    processes.start("redis", redis_argv(redis_port), dict(os.environ))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROUNDTABLE_")}
    env.update(
        production_environment(
            database_url=database_url,
            redis_url=f"redis://127.0.0.1:{redis_port}/0",
            operator={"ROUNDTABLE_SECRET_KEY": SECRET, "ROUNDTABLE_SMTP_URL": smtp.url},
        )
    )
    env.update(TEST_TUNING, **observers(worker_metrics_port, otlp.endpoint))
    migrate = await asyncio.to_thread(
        subprocess.run,
        [*ROUNDTABLE, "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrate.returncode == 0, migrate.stderr
    for name, port in zip(("api1", "api2"), api_ports, strict=True):
        processes.start(name, [*ROUNDTABLE, "api", "--port", str(port)], env)
    processes.start("worker", [*ROUNDTABLE, "worker"], env)
    first, second = (f"http://127.0.0.1:{port}" for port in api_ports)
    for base in (first, second):
        await eventually(
            lambda base=base: answers(f"{base}/ready"),  # type: ignore[misc]
            what=f"{base} ready",
            deadline_seconds=60,
        )

    world = await make_world(session)
    interview = await make_interview(session, make_settings(database_url), world.a, utcnow())
    candidate = {"Authorization": f"Bearer {world.token(world.a.candidate)}"}
    member = {"Authorization": f"Bearer {world.token(world.a.member)}"}
    async with httpx.AsyncClient(timeout=20) as http:
        slots = (
            await http.post(f"{first}/graphql", json={"query": SLOTS, "variables": {"id": str(interview.id)}}, headers=candidate)
        ).json()["data"]["availableSlots"]["days"]
        start = slots[0]["slots"][0]["start"]
        booked = (
            await http.post(
                f"{first}/graphql",
                json={"query": BOOK, "variables": {"input": {"interviewId": str(interview.id), "start": start, "timeZone": "UTC"}}},
                headers=candidate,
            )
        ).json()["data"]["bookInterview"]
        assert booked["errors"] == [], booked
        seen = (
            await http.post(f"{second}/graphql", json={"query": INTERVIEW, "variables": {"id": str(interview.id)}}, headers=member)
        ).json()["data"]["interview"]
    assert seen["status"] == "BOOKED"

    async def booking_mails_arrived() -> bool:
        subjects = [str(m["Subject"]) for m in smtp.handler.messages()]
        return sum("booked" in s.lower() for s in subjects) >= 2  # candidate and team at least

    await eventually(booking_mails_arrived, what="the booking's mails at the SMTP server", deadline_seconds=60)

    # The booking, its outbox rows and their delivery, as Prometheus scrapes them: the rows
    # from any API (read from the database), the deliveries from the worker's exposition.
    async def delivered_in_metrics() -> bool:
        async with httpx.AsyncClient(timeout=5) as http:
            api = (await http.get(f"{second}/metrics")).text
            worker = (await http.get(f"http://127.0.0.1:{worker_metrics_port}/")).text
        return (
            sample(api, "roundtable_interviews", status="BOOKED") == 1
            and sample(api, "roundtable_outbox_messages", topic="mail", status="DONE") >= 2
            and sample(worker, "roundtable_outbox_deliveries_total", topic="mail", outcome="DONE") >= 2
            and sample(worker, "dramatiq_messages_total", queue_name="mail", actor_name="outbox_mail") >= 2
        )

    await eventually(delivered_in_metrics, what="the delivery in the metrics", deadline_seconds=30)
    health = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "app.ops.worker_health", "--url", f"http://127.0.0.1:{worker_metrics_port}/"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert health.returncode == 0, health.stderr

    # One trace from the API's booking to the worker's deliveries of its mails.
    async def one_trace() -> bool:
        spans = otlp.received()
        deliveries = {s.trace_id for s in spans if s.service == "roundtable-worker" and s.name == "outbox mail"}
        operations = {s.trace_id for s in spans if s.service == "roundtable-api" and s.name.startswith("GraphQL")}
        return bool(deliveries & operations)

    await eventually(one_trace, what="the booking's trace reaching the worker", deadline_seconds=30)

    processes.stop("redis")
    await eventually(lambda: answers(f"{first}/ready", 503), what="unready without the broker")
    async with httpx.AsyncClient(timeout=5) as http:
        body = (await http.get(f"{first}/ready")).json()
    assert body["status"] == "not ready" and body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("unreachable")
    processes.start("redis", redis_argv(redis_port), dict(os.environ))
    await eventually(lambda: answers(f"{first}/ready"), what="ready again", deadline_seconds=30)


def test_the_compose_file_wires_the_same_set() -> None:
    """docker-compose.yml cannot be started here (no Docker engine): check its wiring."""
    services = COMPOSE["services"]
    assert {"postgres", "redis", "migrate", "api", "worker"} <= set(services)
    assert services["migrate"]["command"] == "roundtable migrate"
    assert services["api"]["command"].startswith("roundtable api ")
    assert services["worker"]["command"] == "roundtable worker"
    env = services["api"]["environment"]
    assert services["worker"]["environment"] == env == services["migrate"]["environment"]
    assert "/ready" in " ".join(services["api"]["healthcheck"]["test"])
    assert "app.ops.worker_health" in " ".join(services["worker"]["healthcheck"]["test"])
    for dependency in ("migrate", "redis"):
        assert dependency in services["worker"]["depends_on"]
        assert dependency in services["api"]["depends_on"]
    # Every variable is one Settings knows (a typo would be ignored silently at start).
    assert {k.removeprefix("ROUNDTABLE_").lower() for k in env} <= set(Settings.model_fields)


def test_the_compose_file_is_valid_by_the_compose_specification() -> None:
    errors = sorted(
        Draft201909Validator(COMPOSE_SCHEMA).iter_errors(COMPOSE), key=lambda e: list(e.path)
    )
    assert not errors, [f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors]


def test_the_compose_schema_check_catches_a_misspelt_key() -> None:
    broken = copy.deepcopy(COMPOSE)
    broken["services"]["worker"]["enviroment"] = broken["services"]["worker"].pop("environment")
    assert list(Draft201909Validator(COMPOSE_SCHEMA).iter_errors(broken))


def test_this_test_runs_the_compose_files_environment() -> None:
    """The processes above get exactly the compose file's variables, its defaults for the
    values an operator may leave alone, and local addresses for its services; only the
    timings in TEST_TUNING and the observers' addresses are added."""
    env = production_environment(
        database_url="postgresql://db.test/x",
        redis_url="redis://broker.test/0",
        operator={"ROUNDTABLE_SECRET_KEY": "k" * 32, "ROUNDTABLE_SMTP_URL": "smtp://mail.test:25"},
    )
    assert set(env) == set(COMPOSE["services"]["api"]["environment"])
    assert env["ROUNDTABLE_DATABASE_URL"] == "postgresql://db.test/x"
    assert env["ROUNDTABLE_BROKER_URL"] == "redis://broker.test/0"
    assert env["ROUNDTABLE_PUBLIC_URL"] == "http://localhost:8000"  # the compose default
    assert env["ROUNDTABLE_GRAPHIQL"] == "false"
    assert not set(TEST_TUNING) & set(env)
    for name in TEST_TUNING:
        # Timings and test isolation only: no address, secret or feature of the set.
        assert name.startswith(("ROUNDTABLE_WORKER_", "ROUNDTABLE_REMINDER_", "ROUNDTABLE_RATE_LIMITS", "dramatiq_"))
    assert all(name.startswith(("dramatiq_prom_", "OTEL_")) for name in observers(1, "http://o"))
    with pytest.raises(AssertionError, match="ROUNDTABLE_SECRET_KEY"):
        production_environment(database_url="x", redis_url="y", operator={})
