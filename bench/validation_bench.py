"""Validation of the fragment bomb: Strawberry's limiters (before) and ours (after), one run.

The bomb of issue 10: fragment F_i spreads F_(i-1) twice, `--levels` deep. "before" is the
schema with Strawberry's QueryDepthLimiter, MaxAliasesLimiter and MaxTokensLimiter, as it
was until issue 10; "after" is `app.schema.build_schema` (app/schema/query_limits.py). Both
parse and validate the same document through `Schema.execute_sync`; nothing is resolved,
as both refuse it. Prints milliseconds per document (best of `--repeat`) and the answer.

    .venv/bin/python bench/validation_bench.py [--levels 22] [--repeat 3] [--skip-before]
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable

import strawberry
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.schema.config import StrawberryConfig

from app.config import Settings
from app.schema import Mutation, Query, build_schema


def bomb(levels: int) -> str:
    lines = [f"query {{ ...F{levels} }}", "fragment F0 on Query { me { id } }"]
    lines += [f"fragment F{i} on Query {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, levels + 1)]
    return "\n".join(lines)


def before_schema(settings: Settings) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        config=StrawberryConfig(auto_camel_case=True),
        extensions=[
            lambda: QueryDepthLimiter(max_depth=settings.max_query_depth),
            lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),
            lambda: MaxAliasesLimiter(max_alias_count=settings.max_query_aliases),
        ],
    )


def best_ms(run: Callable[[], object], repeat: int) -> tuple[float, object]:
    timings, answer = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        answer = run()
        timings.append((time.perf_counter() - start) * 1000)
    return min(timings), answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, default=22)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-before", action="store_true", help="only the new limits")
    args = parser.parse_args()
    logging.getLogger("strawberry.execution").disabled = True  # refusals are the point
    settings = Settings.model_construct()
    query = bomb(args.levels)
    print(f"fragment bomb: {args.levels} levels, {len(query.encode())} bytes")
    rows = [("after ", build_schema(settings), args.repeat)]
    if not args.skip_before:
        rows.insert(0, ("before", before_schema(settings), 1))  # seconds each: once
    for name, schema, repeat in rows:
        ms, result = best_ms(lambda s=schema: s.execute_sync(query), repeat)  # type: ignore[misc]
        errors = getattr(result, "errors", None) or []
        print(f"  {name}: {ms:10.1f} ms  {errors[0].message if errors else 'no error'}")


if __name__ == "__main__":
    main()
