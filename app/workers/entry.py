"""The module `dramatiq` imports in each production worker process (`roundtable worker`).

    dramatiq app.workers.entry --processes 2 --threads 8

Settings come from the environment like every Roundtable process; each worker process has
its own broker connection, database engine and periodic sweep.
"""

from __future__ import annotations

import dramatiq

from app.config import SettingsError, configure, load_settings
from app.workers.actors import Periodic, declare_actors
from app.workers.broker import create_broker
from app.workers.options import WorkerOptions
from app.workers.runtime import WorkerRuntime

settings = configure(load_settings())
if not settings.broker_url:
    raise SettingsError(
        "ROUNDTABLE_BROKER_URL: required for worker processes (redis://... or amqp://...); "
        "the embedded default runs its worker inside `roundtable serve`"
    )
options = WorkerOptions()
broker = create_broker(settings.broker_url, options)
dramatiq.set_broker(broker)
actors = declare_actors(broker, WorkerRuntime(settings, options))
broker.add_middleware(Periodic(actors))
