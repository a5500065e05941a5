"""The `roundtable` command: serve, api, worker, migrate, demo, create-admin."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import sys
import tempfile
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from app.config import (
    DEFAULT_VAR_DIR,
    Settings,
    SettingsError,
    configure,
    embedded_secret_key,
    load_settings,
)
from app.db import create_engine, create_session_factory
from app.models import utcnow
from app.ops.logs import configure_logging
from app.ops.tracing import start_tracing

GRACEFUL_SHUTDOWN_SECONDS = 30


def _embedded_settings() -> Settings:
    overrides: dict[str, object] = {}
    if "ROUNDTABLE_GRAPHIQL" not in os.environ:
        overrides["graphiql"] = True  # the embedded default is for trying things out
    if "ROUNDTABLE_INTROSPECTION" not in os.environ:
        overrides["introspection"] = True  # GraphiQL reads the schema through it
    settings = load_settings(require_secret=False, **overrides)
    if not settings.secret_key:
        settings = settings.model_copy(update={"secret_key": embedded_secret_key()})
    return configure(settings)


def _migrate(settings: Settings) -> None:
    from app.migrate import upgrade

    upgrade(settings.database_url)


# The embedded default keeps the demo tokens it printed, so a restart prints the same ones.
DEMO_TOKENS_FILE = DEFAULT_VAR_DIR / "demo-tokens.json"


async def _seed_and_tokens(
    settings: Settings, *, seed_if_empty: bool, remembered: Path | None
) -> list[tuple[str, str, str]]:
    from app import demo

    engine = create_engine(settings)
    try:
        async with create_session_factory(engine)() as session:
            if seed_if_empty and await demo.is_empty(session):
                await demo.seed(session=session, settings=settings, now=utcnow())
            tokens = await demo.demo_tokens(
                session=session, settings=settings, now=utcnow(), remembered=remembered
            )
            await session.commit()
            return [(t.user.role.value, t.user.email, t.token) for t in tokens]
    finally:
        await engine.dispose()


def _print_tokens(tokens: list[tuple[str, str, str]]) -> None:
    if not tokens:
        print("No demo users in this database (it was not empty when first served).")
        return
    print("Demo tokens (send as  Authorization: Bearer <token>):")
    for role, email, token in tokens:
        print(f"  {role:<16} {email:<36} {token}")


def cmd_serve(args: argparse.Namespace) -> None:
    listener = _listen(args.host, args.port)
    settings = configure(_with_public_url(_embedded_settings(), args.host, listener))
    _migrate(settings)
    tokens = asyncio.run(
        _seed_and_tokens(settings, seed_if_empty=True, remembered=DEMO_TOKENS_FILE)
    )
    _print_tokens(tokens)
    print(f"GraphiQL: {served_url(args.host, listener)}/graphql")
    print(f"Links in mails lead to {settings.public_url}")
    print(f"Mail is written to {settings.mail_dir}/ as .eml files")
    _run_uvicorn(settings, listener, embedded=True)


def cmd_api(args: argparse.Namespace) -> None:
    import uvicorn

    if args.workers < 1:
        raise SettingsError("--workers: at least 1")
    listener = _listen(args.host, args.port)
    settings = configure(_with_public_url(load_settings(), args.host, listener))
    if settings.rate_limits and settings.rate_limit_store.startswith("memory"):
        logging.getLogger("app.cli").warning(
            "rate limits are counted in this process's memory; with several API processes "
            "set ROUNDTABLE_RATE_LIMIT_STORAGE_URL (or a redis:// broker) so they share them"
        )
    if args.workers == 1:
        _run_uvicorn(settings, listener, embedded=False)
        return
    if not settings.broker_url:
        raise SettingsError(
            "ROUNDTABLE_BROKER_URL: required for `roundtable api --workers N` with N > 1 "
            "(each process would otherwise run a worker of its own)"
        )
    port = listener.getsockname()[1]
    listener.close()  # uvicorn's supervisor binds it again and shares it with its processes
    # The processes read their settings from the environment: hand them the served address.
    os.environ.setdefault("ROUNDTABLE_PUBLIC_URL", settings.public_url)
    # Each process keeps its counters in one shared directory; /metrics sums them.
    metrics_dir = tempfile.mkdtemp(prefix="roundtable-metrics-")
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", metrics_dir)
    uvicorn.run(
        "app.cli:api_app",
        factory=True,
        host=args.host,
        port=port,
        workers=args.workers,
        log_config=None,  # our handler, set up by main(), formats every line
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        **uvicorn_options(settings),
    )


def api_app() -> Starlette:
    """One API process of `roundtable api --workers N` (uvicorn imports it by name)."""
    configure_logging(os.environ.get("ROUNDTABLE_LOG_FORMAT", "text"))
    return _build_app(configure(load_settings()), embedded=False)


def _build_app(settings: Settings, *, embedded: bool) -> Starlette:
    from app.live.feed import create_feed
    from app.main import create_app
    from app.ops.heap import frozen_startup_heap
    from app.workers.background import Background

    start_tracing("roundtable" if embedded else "roundtable-api")  # if OTEL_* ask for it
    # The relay publishes outbox rows after each commit; without a broker URL (and always
    # in the embedded default) a Dramatiq worker runs in this process too.
    feed = create_feed(settings)
    background = Background(
        settings,
        in_process_worker=embedded or not settings.broker_url,
        live_sink=feed.publish_threadsafe,  # the in-process worker's changes (SQLite)
    )
    return create_app(
        settings,
        on_outbox_written=background.wake,
        lifespan_hooks=[background.lifespan, frozen_startup_heap],  # the heap frozen last
        feed=feed,
    )


def _listen(host: str, port: int) -> socket.socket:
    """Bind before anything else, so links can name the port really served (even --port 0)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SettingsError(f"--host/--port: cannot listen on {host}:{port}: {exc}") from None
    return sock


def served_url(host: str, listener: socket.socket) -> str:
    # A wildcard address is not one to put in a link: the loopback one reaches this server.
    shown = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{listener.getsockname()[1]}"


def _with_public_url(settings: Settings, host: str, listener: socket.socket) -> Settings:
    """Without ROUNDTABLE_PUBLIC_URL, links use the address this process is served at."""
    if "public_url" in settings.model_fields_set:
        return settings
    if host in {"0.0.0.0", "::", ""}:
        logging.getLogger(__name__).warning(
            "ROUNDTABLE_PUBLIC_URL is not set: links in mails use %s; set it to the address "
            "people reach this server at",
            served_url(host, listener),
        )
    return settings.model_copy(update={"public_url": served_url(host, listener)})


def _run_uvicorn(settings: Settings, listener: socket.socket, *, embedded: bool) -> None:
    import uvicorn

    app = _build_app(settings, embedded=embedded)
    host, port = listener.getsockname()[:2]
    logging.getLogger(__name__).info(
        "listening on %s:%s; links in mails lead to %s", host, port, settings.public_url
    )
    config = uvicorn.Config(
        app,
        log_config=None,  # our handler, set up by main(), formats every line
        # In-flight requests finish; the lifespan then stops the relay and worker.
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        **uvicorn_options(settings),
    )
    uvicorn.Server(config).run(sockets=[listener])


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Server-level limits; the body limit and its timeout are BodyLimits (app/limits.py)."""
    return {
        "timeout_keep_alive": settings.keep_alive_timeout_seconds,
        "ws_max_size": settings.max_request_bytes,  # a websocket message, like a body
        "h11_max_incomplete_event_size": 16 * 1024,  # request line and headers (h11)
    }


def cmd_worker(_: argparse.Namespace) -> None:
    from app.workers.options import WorkerOptions

    settings = configure(load_settings())  # the worker decrypts calendar tokens
    if "public_url" not in settings.model_fields_set:
        logging.getLogger(__name__).warning(
            "ROUNDTABLE_PUBLIC_URL is not set: links in the mails this worker writes use %s",
            settings.public_url,
        )
    if not settings.broker_url:
        raise SettingsError(
            "ROUNDTABLE_BROKER_URL: required for `roundtable worker` (redis://... or "
            "amqp://...); the embedded default runs its worker inside `roundtable serve`"
        )
    options = WorkerOptions()
    # One fresh metrics directory per run, named before any worker process imports
    # prometheus-client: its processes write there and the exposition on
    # dramatiq_prom_port (9191) sums them (app/ops/worker_metrics.py).
    metrics_dir = os.environ.get("dramatiq_prom_db") or tempfile.mkdtemp(
        prefix="roundtable-worker-metrics-"
    )
    os.environ["dramatiq_prom_db"] = os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    # Dramatiq's own CLI supervises the worker processes (restarts, signals), with its wait
    # for booting workers fixed (app/workers/supervise.py).
    argv = [sys.executable, "-m", "app.workers.supervise", "app.workers.entry"]
    argv += ["--processes", str(options.processes), "--threads", str(options.threads)]
    os.execv(sys.executable, argv)


def cmd_migrate(_: argparse.Namespace) -> None:
    settings = configure(load_settings(require_secret=False))
    _migrate(settings)
    print("database is at the latest schema")


def cmd_demo(_: argparse.Namespace) -> None:
    embedded = "ROUNDTABLE_SECRET_KEY" not in os.environ
    settings = _embedded_settings() if embedded else configure(load_settings())
    _migrate(settings)
    # Outside the embedded default no token is written to disk: each run mints new ones.
    remembered = DEMO_TOKENS_FILE if embedded else None
    _print_tokens(
        asyncio.run(_seed_and_tokens(settings, seed_if_empty=True, remembered=remembered))
    )


async def _create_admin(settings: Settings, email: str) -> str:
    from app.models import Role
    from app.people import service
    from app.people.tokens import issue_token

    engine = create_engine(settings)
    try:
        async with create_session_factory(engine)() as session:
            address = service.normalise_email(email)
            user = await service.find_user_by_email(session=session, email=address)
            if user is None:
                user = await service.create_user(
                    session=session,
                    email=address,
                    name=address.split("@")[0],
                    role=Role.ADMIN,
                    time_zone="UTC",
                    organization_id=None,
                )
            elif user.role is not Role.ADMIN:
                raise SystemExit(f"{address} exists and is a {user.role.value}, not an admin")
            issued = await issue_token(
                session=session,
                user=user,
                lifetime=timedelta(days=settings.api_token_lifetime_days),
            )
            await session.commit()
            return issued.token
    finally:
        await engine.dispose()


def cmd_create_admin(args: argparse.Namespace) -> None:
    from app.errors import ServiceError

    settings = configure(load_settings(require_secret=False))
    _migrate(settings)
    try:
        token = asyncio.run(_create_admin(settings, args.email))
    except ServiceError as exc:
        raise SystemExit(f"create-admin: {exc}") from None
    print(token)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="roundtable", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, func, help_text in [
        ("serve", cmd_serve, "embedded default: migrate, seed demo data, API + in-process worker"),
        ("api", cmd_api, "production API process (uvicorn)"),
    ]:
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--host", default="127.0.0.1")
        sub.add_argument("--port", type=int, default=8000)
        if name == "api":
            sub.add_argument(
                "--workers", type=int, default=1, help="API processes (uvicorn workers)"
            )
        sub.set_defaults(func=func)
    commands.add_parser("worker", help="production worker process (dramatiq)").set_defaults(
        func=cmd_worker
    )
    commands.add_parser("migrate", help="upgrade the database to the latest schema").set_defaults(
        func=cmd_migrate
    )
    commands.add_parser("demo", help="seed demo data and print a token per demo user").set_defaults(
        func=cmd_demo
    )
    admin = commands.add_parser("create-admin", help="create or find an admin, print a new token")
    admin.add_argument("--email", required=True)
    admin.set_defaults(func=cmd_create_admin)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    configure_logging(os.environ.get("ROUNDTABLE_LOG_FORMAT", "text"))
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except SettingsError as exc:
        print(f"roundtable: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
