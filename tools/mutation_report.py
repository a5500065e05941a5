"""Mutation score per rule module, from mutmut's results, and the mutants still alive.

Reads `mutants/<path>.meta` (written by `mutmut run`) for each module of
[tool.mutmut] only_mutate, and the excused mutants of tests/mutation/equivalent_mutants.md
(lines "- `mutant name`: why it changes no behaviour"). A timeout counts as killed: the
mutant hung a test, which noticed. Exits 1 when a module is under the threshold.

    python tools/mutation_report.py [--threshold 90]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXCUSED_FILE = ROOT / "tests" / "mutation" / "equivalent_mutants.md"
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped"}
STATUS.update({36: "timeout", -24: "timeout", 24: "timeout", 152: "timeout", 255: "timeout"})
DETECTED = {"killed", "timeout"}


def modules() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    return list(config["only_mutate"])


def excused() -> dict[str, str]:
    if not EXCUSED_FILE.exists():
        return {}
    found = re.findall(r"^- `([^`]+)`: (.+)$", EXCUSED_FILE.read_text(), re.MULTILINE)
    return dict(found)


def results(module: str) -> dict[str, str]:
    meta = ROOT / "mutants" / f"{module}.meta"
    if not meta.exists():
        return {}
    codes = json.loads(meta.read_text())["exit_code_by_key"]
    return {
        name: STATUS.get(code, "not checked" if code is None else "suspicious")
        for name, code in codes.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=float, default=90.0)
    args = parser.parse_args()
    reasons = excused()
    seen: set[str] = set()
    survivors: list[tuple[str, str]] = []
    below: list[str] = []
    print(f"{'module':32} {'mutants':>7} {'killed':>6} {'excused':>7} {'alive':>5} {'score':>7}")
    for module in modules():
        statuses = results(module)
        if not statuses:
            print(f"{module:32} no results: run `mutmut run` first")
            below.append(module)
            continue
        counts: Counter[str] = Counter()
        for name, status in sorted(statuses.items()):
            seen.add(name)
            if status in DETECTED:
                counts["killed"] += 1
            elif name in reasons:
                counts["excused"] += 1
            else:
                counts["alive"] += 1
                survivors.append((name, status))
        considered = len(statuses) - counts["excused"]
        score = 100.0 * counts["killed"] / considered if considered else 100.0
        if score < args.threshold:
            below.append(module)
        print(
            f"{module:32} {len(statuses):7} {counts['killed']:6} {counts['excused']:7} "
            f"{counts['alive']:5} {score:6.1f}%"
        )
    if survivors:
        print(
            "\nAlive (kill with a test, or excuse in tests/mutation/equivalent_mutants.md):"
        )
        for name, status in survivors:
            print(f"  {name}  [{status}]  (mutmut show {name})")
    stale = sorted(name for name in reasons if name not in seen or results_status(name) in DETECTED)
    if stale:
        print("\nExcused but killed or gone now (remove from the list):")
        for name in stale:
            print(f"  {name}")
    if below:
        print(f"\nUnder {args.threshold:.0f}%: {', '.join(below)}")
        return 1
    return 0


def results_status(name: str) -> str | None:
    for module in modules():
        status = results(module).get(name)
        if status is not None:
            return status
    return None


if __name__ == "__main__":
    sys.exit(main())
