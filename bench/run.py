"""`make bench`: seed PostgreSQL, start the production processes, print figure/goal/measured.

    .venv/bin/python bench/run.py [--postgres URL] [--before DIR] [--only lists,slots,book,mixed]

Points (issue 15):
- lists: `myInterviews(first: 20)` with windows and participants, requests/s of one
  `roundtable api` process against the floor (bench/floor.py, one uvicorn process), wrk
  rounds alternating A/B/A/B after checking both answer the same bytes;
- slots: `availableSlots` for 50 windows over four weeks, 8 members with 200 bookings each:
  sequential p50 over HTTP and SQL statements;
- book: `bookInterview`: sequential p50 over HTTP and SQL statements;
- mixed: 70% slots, 20% lists, 10% bookings with wrk for a bounded time against
  `roundtable api --workers N` plus `roundtable worker` (Redis broker).

`--before DIR` runs a second API process from another checkout of Roundtable (e.g. a
`git worktree` of main) with the same Python, side by side in the same run.
Statement counts come from bench/statements.py (in-process, like the test suite counts).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.migrate import upgrade  # noqa: E402
from app.models import utcnow  # noqa: E402
from bench.floor import LIST_QUERY  # noqa: E402
from bench.seed import World, seed  # noqa: E402

PYTHON = sys.executable
SLOTS_QUERY = """query($id: ID!) { availableSlots(interviewId: $id, timeZone: "Asia/Kolkata") {
  days { date slots { start end } } warning } }"""
BOOK_QUERY = """mutation($id: ID!, $start: DateTime!) { bookInterview(input: {
  interviewId: $id, start: $start, timeZone: "Asia/Kolkata"}) {
  interview { id status bookedStart conference { url } } errors { code message } } }"""


@dataclass
class Row:
    figure: str
    goal: str
    measured: dict[str, str] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Process:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], cwd: Path, log: Path):
        self.name, self.log = name, log
        self.handle = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self) -> None:
        if self.handle.poll() is None:
            os.killpg(self.handle.pid, 15)
            try:
                self.handle.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.handle.pid, 9)
                self.handle.wait()


def wait_ready(url: str, process: Process, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.handle.poll() is not None:
            raise SystemExit(f"{process.name} exited: see {process.log}")
        try:
            httpx.post(url, json={"query": "{ __typename }"}, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise SystemExit(f"{process.name} did not start: see {process.log}")


def wrk(url: str, script: Path, *, seconds: int, connections: int, threads: int = 1) -> str:
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    argv += ["-s", str(script), url]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


def requests_per_second(out: str) -> float:
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return float(match.group(1)) if match else 0.0


def percentile_ms(out: str, pct: str) -> float:
    match = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    if not match:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal here


def post_script(path: Path, token: str, body: str) -> Path:
    path.write_text(
        f"wrk.method = 'POST'\nwrk.body = {lua_string(body)}\n"
        f"wrk.headers['Content-Type'] = 'application/json'\n"
        f"wrk.headers['Authorization'] = {lua_string('Bearer ' + token)}\n"
    )
    return path


MIXED_LUA = """
local threads = {}
function setup(thread) thread:set("tid", #threads); table.insert(threads, thread) end
local n, nthreads = 0, 2
errors = 0  -- a global: done() reads it through thread:get
function init(args)
  nthreads = tonumber(args[1]); errors = 0; math.randomseed(tid * 7919 + 1)
end
local function post(token, body)
  return wrk.format("POST", "/graphql", {["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token}, body)
end
function request()
  local r = math.random(100)
  if r <= 70 then return post(SLOTS_TOKEN, SLOTS_BODY) end
  if r <= 90 then return post(LIST_TOKEN, LIST_BODY) end
  local b = BOOKINGS[((tid + nthreads * n) % #BOOKINGS) + 1]
  n = n + 1
  return post(b[1], b[2])
end
function response(status, headers, body)
  if status ~= 200 or body:find('"errors":%[{') then errors = errors + 1 end
end
function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("errors") end
  io.write(string.format("graphql_errors %d\\n", total))
end
"""


def mixed_script(path: Path, world: World, bookings: list[tuple[str, str]]) -> Path:
    slots = json.dumps({"query": SLOTS_QUERY, "variables": {"id": world.slots_interview_id}})
    lists = json.dumps({"query": LIST_QUERY})
    table = ",\n".join(f"{{{lua_string(t)}, {lua_string(b)}}}" for t, b in bookings)
    path.write_text(
        f"SLOTS_TOKEN = {lua_string(world.slots_token)}\nSLOTS_BODY = {lua_string(slots)}\n"
        f"LIST_TOKEN = {lua_string(world.lister_token)}\nLIST_BODY = {lua_string(lists)}\n"
        f"BOOKINGS = {{\n{table}\n}}\n" + MIXED_LUA
    )
    return path


def book_body(interview_id: str, start: str) -> str:
    return json.dumps({"query": BOOK_QUERY, "variables": {"id": interview_id, "start": start}})


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_by_role(roles: dict[str, set[int]]) -> dict[str, float]:
    """CPU seconds so far of this machine's processes, by role: the process groups started
    here (their uvicorn and Dramatiq children included), PostgreSQL's backends and wrk."""
    totals: dict[str, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue  # ended meanwhile
        fields = stat.rsplit(")", 1)[1].split()
        group = int(fields[2])  # process group: start_new_session made each its own
        role = next((name for name, groups in roles.items() if group in groups), None)
        if role is None:
            role = "postgres" if "postgres" in command else "wrk" if command.endswith("wrk") else ""
        if role:
            seconds = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            totals[role] = totals.get(role, 0.0) + seconds
    return totals


@dataclass
class Sequential:
    p50_ms: dict[str, float]
    cpu_ms: dict[str, float]  # the server process's CPU per request: waiting excluded


def sequential_ms(
    urls: dict[str, str],
    bodies: dict[str, list[tuple[str, str]]],
    check: str,
    pids: dict[str, int] | None = None,
) -> Sequential:
    """Median milliseconds per request, one request at a time, alternating between the
    servers request by request so that load from elsewhere on the machine hits each alike;
    and the CPU each server process spent per request, which that load hardly changes."""
    pids = pids or {}
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    timings: dict[str, list[float]] = {name: [] for name in urls}
    clients = {name: httpx.Client(timeout=30) for name in urls}
    try:
        for i in range(max(len(b) for b in bodies.values())):
            for name, url in urls.items():
                if i >= len(bodies[name]):
                    continue
                token, body = bodies[name][i]
                headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
                began = time.perf_counter()
                response = clients[name].post(url, content=body, headers=headers)
                timings[name].append((time.perf_counter() - began) * 1000)
                if response.json().get("errors") or check not in response.text:
                    raise SystemExit(f"unexpected answer from {name}: {response.text[:500]}")
    finally:
        for client in clients.values():
            client.close()
    cpu = {
        name: (cpu_seconds(pid) - cpu_before[name]) * 1000 / len(timings[name])
        for name, pid in pids.items()
    }
    p50 = {name: statistics.median(values[5:] or values) for name, values in timings.items()}
    return Sequential(p50, cpu)


class Bench:
    def __init__(self, args: argparse.Namespace, url: str, world: World, tmp: Path):
        self.args, self.url, self.world, self.tmp = args, url, world, tmp
        self.rows: list[Row] = []
        self.processes: list[Process] = []
        self.pids: dict[str, int] = {}  # url: the process serving it
        # Bookings interleaved across bookers: concurrent bookings are by different people.
        by_booker: dict[str, list[tuple[str, str]]] = {}
        for b in world.bookings:
            by_booker.setdefault(b.token, []).append((b.token, book_body(b.interview_id, b.start)))
        columns = list(by_booker.values())
        self.bookings = [col[i] for i in range(len(columns[0])) for col in columns]

    def env(self, tree: Path, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROUNDTABLE_")}
        env.update(
            ROUNDTABLE_DATABASE_URL=self.url,
            ROUNDTABLE_SECRET_KEY="b" * 40,
            ROUNDTABLE_RATE_LIMITS="off",
            ROUNDTABLE_MAIL_DIR=str(self.tmp / "mail"),
            ROUNDTABLE_LOG_FORMAT="text",
            PYTHONPATH=str(tree),
        )
        env.update(extra)
        return env

    def start(self, name: str, argv: list[str], env: dict[str, str], tree: Path) -> Process:
        process = Process(name, argv, env, tree, self.tmp / f"{name}.log")
        self.processes.append(process)
        return process

    def api(self, name: str, tree: Path, workers: int = 1, **extra: str) -> str:
        """`roundtable api` as production runs it: with a broker, so no worker inside (its
        outbox rows wait in a namespace of their own that no worker reads, unless the
        caller starts one)."""
        port = free_port()
        argv = [PYTHON, "-c", "from app.cli import main; main()", "api", "--port", str(port)]
        argv += ["--workers", str(workers)]
        broker = {
            "ROUNDTABLE_BROKER_URL": self.args.broker,
            "ROUNDTABLE_WORKER_NAMESPACE": f"bench-{os.getpid()}-{name}",
        }
        process = self.start(name, argv, self.env(tree, **{**broker, **extra}), tree)
        url = f"http://127.0.0.1:{port}/graphql"
        wait_ready(url, process)
        self.pids[url] = process.handle.pid
        return url

    def floor(self) -> str:
        port = free_port()
        argv = [PYTHON, "-m", "uvicorn", "bench.floor:app", "--port", str(port)]
        process = self.start("floor", argv, self.env(ROOT), ROOT)
        url = f"http://127.0.0.1:{port}/graphql"
        wait_ready(url, process)
        self.pids[url] = process.handle.pid
        return url

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()

    def trees(self) -> dict[str, Path]:
        trees = {"after": ROOT}
        if self.args.before:
            trees = {"before": Path(self.args.before).resolve(), **trees}
        return trees

    # -- points ----------------------------------------------------------------------------

    def lists(self) -> None:
        urls = {name: self.api(f"api-{name}", tree) for name, tree in self.trees().items()}
        urls["floor"] = self.floor()
        body = json.dumps({"query": LIST_QUERY})
        headers = {
            "Authorization": f"Bearer {self.world.lister_token}",
            "Content-Type": "application/json",
        }
        answers = {n: httpx.post(u, content=body, headers=headers).content for n, u in urls.items()}
        for name, answer in answers.items():
            if answer != answers["floor"]:
                (self.tmp / f"list-{name}.json").write_bytes(answer)
                (self.tmp / "list-floor.json").write_bytes(answers["floor"])
                raise SystemExit(f"{name} and the floor answer differently: see {self.tmp}")
        size = len(answers["floor"])
        script = post_script(self.tmp / "list.lua", self.world.lister_token, body)
        rps: dict[str, list[float]] = {n: [] for n in urls}
        cpu: dict[str, list[float]] = {n: [] for n in urls}
        for _ in range(self.args.rounds):  # A/B/A/B: drift on the shared machine hits both
            for name, url in urls.items():
                began = cpu_seconds(self.pids[url])
                out = wrk(url, script, seconds=self.args.seconds, connections=8)
                rps[name].append(requests_per_second(out))
                done = re.search(r"(\d+) requests in", out)
                count = int(done.group(1)) if done else 0
                cpu[name].append((cpu_seconds(self.pids[url]) - began) * 1000 / max(count, 1))
        pids = {n: self.pids[u] for n, u in urls.items()}
        seq = sequential_ms(
            urls, {n: [(self.world.lister_token, body)] * 100 for n in urls}, "edges", pids
        )
        floor = statistics.median(rps["floor"])
        floor_cpu = statistics.median(cpu["floor"])
        row = Row(f"myInterviews(first: 20), {size} B: req/s vs floor", ">= 0.50 of floor")
        cpu_row = Row("  its server CPU per request under wrk", "(floor / this)")
        for name in urls:
            mine, mine_cpu = statistics.median(rps[name]), statistics.median(cpu[name])
            runs = "/".join(f"{v:.0f}" for v in rps[name])
            ratio = "" if name == "floor" else f" = {mine / floor:.2f}"
            row.measured[name] = f"{runs} req/s{ratio}"
            ratio = "" if name == "floor" else f" = {floor_cpu / mine_cpu:.2f}"
            cpu_row.measured[name] = f"{mine_cpu:.1f} ms{ratio}"
        self.rows += [row, cpu_row]
        seq_row = Row("myInterviews sequential p50; server CPU/request", "(floor side by side)")
        seq_row.measured = {n: f"{v:.1f} ms; {seq.cpu_ms[n]:.1f} ms" for n, v in seq.p50_ms.items()}
        self.rows.append(seq_row)
        self.stop_all()

    def slots_and_book(self) -> None:
        urls = {name: self.api(f"api-{name}", tree) for name, tree in self.trees().items()}
        slots_body = json.dumps(
            {"query": SLOTS_QUERY, "variables": {"id": self.world.slots_interview_id}}
        )
        token = self.world.slots_token
        pids = {n: self.pids[u] for n, u in urls.items()}
        slots = sequential_ms(urls, {n: [(token, slots_body)] * 200 for n in urls}, "days", pids)
        row = Row("availableSlots p50 (50 windows, 8x200); CPU/req", "<= 10 ms")
        row.measured = {n: f"{v:.1f} ms; {slots.cpu_ms[n]:.1f} ms" for n, v in slots.p50_ms.items()}
        self.rows.append(row)
        batches = {n: [self.bookings.pop() for _ in range(60)] for n in urls}
        booked = sequential_ms(urls, batches, '"BOOKED"', pids)
        row = Row("bookInterview sequential p50; server CPU/request", "(side by side)")
        row.measured = {
            n: f"{v:.1f} ms; {booked.cpu_ms[n]:.1f} ms" for n, v in booked.p50_ms.items()
        }
        self.rows.append(row)
        self.stop_all()
        counts = {name: self.count_statements(tree) for name, tree in self.trees().items()}
        for key, figure, goal in (
            ("lists", "myInterviews SQL statements (+ transaction control)", "bounded"),
            ("slots", "availableSlots SQL statements (+ transaction control)", "<= 3"),
            ("book", "bookInterview SQL statements (+ transaction control)", "<= 12"),
        ):
            row = Row(figure, goal)
            row.measured = {
                n: f"{c[key]['statements']} (+{c[key]['transaction_control']})"
                for n, c in counts.items()
            }
            self.rows.append(row)

    def count_statements(self, tree: Path) -> dict[str, dict[str, int]]:
        token, body = self.bookings.pop()
        booking = json.loads(body)
        spec = {
            "requests": {
                "lists": {"query": LIST_QUERY, "token": self.world.lister_token},
                "slots": {
                    "query": SLOTS_QUERY,
                    "variables": {"id": self.world.slots_interview_id},
                    "token": self.world.slots_token,
                },
                "book": {
                    "query": booking["query"],
                    "variables": booking["variables"],
                    "token": token,
                },
            }
        }
        out = subprocess.run(
            [PYTHON, str(ROOT / "bench" / "statements.py"), self.url, json.dumps(spec)],
            env=self.env(tree),
            cwd=tree,
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            raise SystemExit(f"statement count failed:\n{out.stderr[-3000:]}")
        return dict(json.loads(out.stdout.strip().splitlines()[-1]))

    def mixed(self) -> None:
        measured: dict[str, str] = {}
        cpu_rows: dict[str, str] = {}
        workers = self.args.workers
        for name, tree in self.trees().items():
            extra = {
                "ROUNDTABLE_BROKER_URL": self.args.broker,
                "ROUNDTABLE_WORKER_NAMESPACE": f"bench-{os.getpid()}-{name}",
                "ROUNDTABLE_WORKER_PROCESSES": "1",
                "ROUNDTABLE_WORKER_THREADS": "4",
            }
            url = self.api(f"mixed-{name}", tree, workers=workers, **extra)
            argv = [PYTHON, "-c", "from app.cli import main; main()", "worker"]
            self.start(f"worker-{name}", argv, self.env(tree, **extra), tree)
            share = len(self.bookings) // len(self.trees())
            mine = [self.bookings.pop() for _ in range(share)]
            script = mixed_script(self.tmp / f"mixed-{name}.lua", self.world, mine)
            argv = ["wrk", "-t2", f"-c{self.args.connections}", f"-d{self.args.mixed_seconds}s"]
            argv += ["--latency", "-s", str(script), url, "--", "2"]
            roles = {
                "api": {p.handle.pid for p in self.processes if p.name.startswith("mixed-")},
                "worker": {p.handle.pid for p in self.processes if p.name.startswith("worker-")},
            }
            cpu_before = cpu_by_role(roles)
            done = subprocess.run(argv, capture_output=True, text=True, check=False)
            cpu_after = cpu_by_role(roles)
            if done.returncode != 0:
                raise SystemExit(f"wrk failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")
            out = done.stdout
            (self.tmp / f"mixed-{name}.txt").write_text(out)
            errors = re.search(r"graphql_errors (\d+)", out)
            non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
            socket_errors = re.search(r"Socket errors: (.*)", out)
            err = int(errors.group(1)) if errors else -1
            served = re.search(r"(\d+) requests in", out)
            count = max(int(served.group(1)) if served else 0, 1)
            split = ", ".join(
                f"{role} {(cpu_after.get(role, 0) - cpu_before.get(role, 0)) * 1000 / count:.1f}"
                for role in ("api", "worker", "postgres", "wrk")
            )
            cpu_rows[name] = f"{split} ms"
            measured[name] = (
                f"{requests_per_second(out):.0f} req/s, p99 {percentile_ms(out, '99'):.0f} ms, "
                f"p50 {percentile_ms(out, '50'):.0f} ms, errors {err}"
                + (f" (non-2xx {non2xx.group(1)})" if non2xx else "")
                + (f" (socket: {socket_errors.group(1)})" if socket_errors else "")
            )
            self.stop_all()
        row = Row(
            f"mixed 70/20/10, {self.args.connections} conns, {self.args.mixed_seconds} s, "
            f"api --workers {workers} + worker",
            ">= 300 req/s, p99 < 250 ms, 0 errors",
        )
        row.measured = measured
        cpu = Row("  CPU per request, by process (2 cores: 2000 ms/s)", "")
        cpu.measured = cpu_rows
        self.rows += [row, cpu]

    def print_table(self) -> None:
        names = [*self.trees(), "floor"]
        load = os.getloadavg()
        print(f"\nload average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        print(f"{'figure':<58} {'goal':<26} " + " ".join(f"{n:<30}" for n in names))
        for row in self.rows:
            cells = " ".join(f"{row.measured.get(n, ''):<30}" for n in names)
            print(f"{row.figure:<58} {row.goal:<26} {cells}")


@contextmanager
def scratch_database(admin_url: str, name: str) -> Iterator[str]:
    async def run(sql: str) -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def seed_world(url: str) -> World:
    from app.config import Settings
    from app.db import create_engine, create_session_factory

    engine = create_engine(Settings(database_url=url, secret_key="b" * 40))
    try:
        async with create_session_factory(engine)() as session:
            world = await seed(session, utcnow())
        # Planner statistics, as autovacuum keeps them on a live database: without them a
        # freshly seeded table is planned as if empty (slots' overlap join then skips the
        # exclusion constraint's GiST index and compares every booking with every window).
        async with engine.connect() as connection:
            await connection.execute(text("ANALYZE"))
            await connection.commit()
        return world
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default=f"roundtable_bench_{os.getpid()}")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--before", help="another Roundtable checkout, run side by side")
    parser.add_argument("--only", default="lists,slots,mixed")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5, help="each wrk round of the lists")
    parser.add_argument("--workers", type=int, default=2, help="API processes for mixed load")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--mixed-seconds", type=int, default=20)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    only = set(args.only.split(","))
    with scratch_database(args.postgres, args.database) as url:
        upgrade(url)
        world = asyncio.run(seed_world(url))
        tmp = Path(tempfile.mkdtemp(prefix="roundtable-bench-"))
        bench = Bench(args, url, world, tmp)
        print(f"seeded {args.database}; logs in {tmp}", flush=True)
        try:
            if "lists" in only:
                bench.lists()
            if "slots" in only:
                bench.slots_and_book()
            if "mixed" in only:
                bench.mixed()
        finally:
            bench.stop_all()
            bench.print_table()


if __name__ == "__main__":
    main()
