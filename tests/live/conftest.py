"""Live-update tests share the workers' `postgres_only` marker handling."""

from tests.workers.conftest import _postgres_only

__all__ = ["_postgres_only"]
