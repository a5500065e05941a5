"""The garbage collector of a long-running server process.

After start-up the heap holds some 200,000 long-lived objects (the schema, SQLAlchemy's
mappers, the libraries), and every full collection walked them all: about 180 ms each, some
2-3 ms per list request on average (measured with `gc.callbacks`). Freezing what start-up
built moves it out of the collector's sight; a larger first generation makes the young
collections rarer. Per-request garbage is still collected. Only the server processes do
this (`roundtable serve|api`): tests build many apps in one process and must not keep them.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator

YOUNG_THRESHOLD = 10_000  # allocations between young collections (CPython's default: 700)


@contextlib.asynccontextmanager
async def frozen_startup_heap() -> AsyncIterator[None]:
    """A lifespan hook: run last, once the app and its workers have started."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
    yield
