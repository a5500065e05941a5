"""What a worker process holds: its own engine, the mail transport, settings, a clock.

The engine is created on first use on the worker's event loop (the AsyncIO middleware's,
or the relay's own) and never shared with the API's loop: asyncpg connections belong to
the loop that opened them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import create_engine, create_session_factory
from app.live.changes import Change, worker_session_info
from app.live.feed import CHANNEL
from app.models import utcnow
from app.notifications.delivery import MailTransport, transport_for
from app.workers.options import WorkerOptions


@dataclass
class WorkerRuntime:
    settings: Settings
    options: WorkerOptions = field(default_factory=WorkerOptions)
    transport: MailTransport | None = None
    clock: Callable[[], datetime] = utcnow
    # The embedded default's in-process feed: what workers change reaches subscriptions.
    live_sink: Callable[[Sequence[Change]], None] | None = None
    _engine: AsyncEngine | None = field(default=None, init=False, repr=False)
    _sessions: async_sessionmaker[AsyncSession] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.transport is None:
            self.transport = transport_for(self.settings)

    @property
    def mail(self) -> MailTransport:
        assert self.transport is not None  # set in __post_init__
        return self.transport

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        if self._sessions is None:
            self._engine = create_engine(self.settings)
            info = worker_session_info(
                postgres=not self.settings.is_sqlite, channel=CHANNEL, sink=self.live_sink
            )
            self._sessions = create_session_factory(self._engine, info=info)
        return self._sessions

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
        self._engine, self._sessions = None, None
