"""The `roundtable` command as a newcomer uses it: serve on a fresh folder, create-admin."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import time
from email import policy
from email.parser import BytesParser
from pathlib import Path

import httpx
import pytest

from app.db import create_engine
from app.main import create_app
from tests.conftest import GraphQLClient, make_settings


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ROUNDTABLE_")}


def test_serve_on_a_fresh_folder_prints_tokens_that_work(tmp_path: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=_clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Uvicorn running" in line or "Application startup complete" in line:
                break
        output = "".join(lines)
        assert f"GraphiQL: http://127.0.0.1:{port}/graphql" in output, output
        rows = re.findall(r"^\s+(\w+)\s+(\S+)@\S+\s+(rt_\S+)$", output, re.MULTILINE)
        assert {role for role, _, _ in rows} == {
            "ADMIN",
            "ACCOUNT_MANAGER",
            "CANDIDATE",
            "HIRING_MEMBER",
        }
        tokens = {name: token for _, name, token in rows}
        query = "{ me { role } myInterviews(group: PENDING) { edges { node { round } } } }"
        body = httpx.post(
            f"http://127.0.0.1:{port}/graphql",
            json={"query": query},
            headers={"Authorization": f"Bearer {tokens['alice']}"},
            timeout=10,
        ).json()
        assert body["data"]["me"]["role"] == "HIRING_MEMBER"
        assert body["data"]["myInterviews"]["edges"] == [{"node": {"round": 2}}]
        graphiql = httpx.get(
            f"http://127.0.0.1:{port}/graphql", headers={"Accept": "text/html"}, timeout=10
        )
        assert graphiql.status_code == 200
        introspection = httpx.post(
            f"http://127.0.0.1:{port}/graphql",
            json={"query": "{ __schema { queryType { name } } }"},
            timeout=10,
        ).json()
        assert introspection == {"data": {"__schema": {"queryType": {"name": "Query"}}}}
        assert (tmp_path / "var" / "roundtable.db").exists()
        # Kept beside secret.key, so the next start prints these same tokens.
        kept = json.loads((tmp_path / "var" / "demo-tokens.json").read_text())
        assert set(kept["tokens"].values()) == set(tokens.values())
        # The demo's mails, written by the in-process worker, link to the port really served.
        assert f"Links in mails lead to http://127.0.0.1:{port}" in output
        links: list[str] = []
        while time.monotonic() < deadline and not links:
            for path in (tmp_path / "var" / "mail").glob("*.eml"):
                mail = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
                text = mail.get_body(("plain",))
                assert text is not None
                links += re.findall(r"Select an interview time: (\S+)", text.get_content())
            time.sleep(0.2)
        assert links, "the demo candidate's request mail was written"
        for link in links:
            assert link.startswith(f"http://127.0.0.1:{port}/links/"), link
            page = httpx.get(link, timeout=10)
            assert page.status_code == 200 and 'id="app"' in page.text
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        if proc.stdout is not None:
            proc.stdout.close()


async def test_create_admin_prints_a_token_that_acts_as_that_admin(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'admin.db'}"
    env = {**_clean_env(), "ROUNDTABLE_DATABASE_URL": url}
    runs = [
        await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "app.cli", "create-admin", "--email", "Boss@Example.com"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        for _ in range(2)
    ]
    tokens = [run.stdout.strip().splitlines()[-1] for run in runs]
    assert all(t.startswith("rt_") for t in tokens) and tokens[0] != tokens[1]

    # Both tokens open the API as the one admin (run twice, the user is not created twice).
    settings = make_settings(url)
    engine = create_engine(settings)
    transport = httpx.ASGITransport(app=create_app(settings, engine=engine))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://cli.test") as http:
            gql = GraphQLClient(http)
            for n, token in enumerate(tokens):
                me = await gql("{ me { email role } }", token=token)
                assert me["data"]["me"] == {"email": "boss@example.com", "role": "ADMIN"}
                made = await gql(
                    'mutation($n: String!) { createOrganization(input: {name: $n}) '
                    "{ organization { name } errors { code } } }",
                    {"n": f"Org {n}"},
                    token=token,
                )
                assert made["data"]["createOrganization"] == {
                    "organization": {"name": f"Org {n}"},
                    "errors": [],
                }
            stranger = await gql("{ me { email } }", token=tokens[0][:-1] + "x")
            assert stranger["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    finally:
        await engine.dispose()


def test_a_bad_setting_stops_the_api_with_its_name(tmp_path: Path) -> None:
    env = {
        **_clean_env(),
        "ROUNDTABLE_DATABASE_URL": "mysql://nope/db",
        "ROUNDTABLE_SECRET_KEY": "s" * 40,
    }
    run = subprocess.run(
        [sys.executable, "-m", "app.cli", "api"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert run.returncode == 2
    assert "ROUNDTABLE_DATABASE_URL" in run.stderr


def test_links_use_the_port_really_bound_unless_the_public_url_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.cli import _listen, _with_public_url
    from app.config import Settings

    monkeypatch.delenv("ROUNDTABLE_PUBLIC_URL", raising=False)
    listener = _listen("127.0.0.1", 0)  # the system picks the port, as with --port 0
    try:
        port = listener.getsockname()[1]
        assert port != 0
        assert _with_public_url(Settings(), "127.0.0.1", listener).public_url == (
            f"http://127.0.0.1:{port}"
        )
        assert _with_public_url(Settings(), "0.0.0.0", listener).public_url == (
            f"http://127.0.0.1:{port}"
        )
        monkeypatch.setenv("ROUNDTABLE_PUBLIC_URL", "https://jobs.example.com")
        assert _with_public_url(Settings(), "0.0.0.0", listener).public_url == (
            "https://jobs.example.com"
        )
    finally:
        listener.close()
