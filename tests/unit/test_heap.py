"""The server processes freeze what start-up built (app.ops.heap)."""

from __future__ import annotations

import gc

from app.ops.heap import YOUNG_THRESHOLD, frozen_startup_heap


async def test_the_startup_heap_is_frozen_and_young_collections_are_rarer() -> None:
    threshold = gc.get_threshold()
    survivor = [object() for _ in range(10)]  # something start-up built and keeps
    frozen_before = gc.get_freeze_count()
    try:
        async with frozen_startup_heap():
            assert gc.get_freeze_count() >= frozen_before + len(survivor)
            assert gc.get_threshold()[0] == YOUNG_THRESHOLD
            assert gc.get_threshold()[1:] == threshold[1:]
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
