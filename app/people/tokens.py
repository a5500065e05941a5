"""API tokens: random, shown once, stored as SHA-256 hashes; they expire and can be revoked."""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.access import Viewer
from app.db import begin_write
from app.errors import not_found
from app.models import ApiToken, User, utcnow

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "rt_"
DEFAULT_LIFETIME = timedelta(days=90)
# last_used_at is a hint for people reviewing their tokens, not an audit log: writing it on
# every request would double the statements of every read (SPEC's SQL budgets).
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_token(token: str) -> str:
    # Tokens carry 256 bits of randomness, so a fast hash is enough (no salt or KDF needed).
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: str  # the secret, shown once
    row: ApiToken


async def issue_token(
    *,
    session: AsyncSession,
    user: User,
    lifetime: timedelta = DEFAULT_LIFETIME,
    now: datetime | None = None,
) -> IssuedToken:
    """A new token for `user`; their other tokens stay valid (SPEC allows one per use)."""
    now = now or utcnow()
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        id=uuid.uuid4(),
        user_id=user.id,
        token_hash=hash_token(token),
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(row)
    await session.flush()
    return IssuedToken(token, row)


@dataclass(frozen=True)
class Authenticated:
    user: User
    token_id: uuid.UUID
    last_used_at: datetime | None


# Built once (every request runs it): its hash and the time are parameters.
_LIVE_TOKEN = (
    select(User, ApiToken.id, ApiToken.last_used_at)
    .join(ApiToken, ApiToken.user_id == User.id)
    .where(
        ApiToken.token_hash == bindparam("token_hash"),
        ApiToken.revoked_at.is_(None),
        ApiToken.expires_at > bindparam("now", type_=ApiToken.expires_at.type),
    )
)


async def authenticate(*, session: AsyncSession, token: str, now: datetime) -> Authenticated | None:
    """The user of a live (unrevoked, unexpired) token, in one SELECT; None for anything else."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    params = {"token_hash": hash_token(token), "now": now}
    row = (await session.execute(_LIVE_TOKEN, params)).first()
    if row is None:
        return None
    return Authenticated(user=row[0], token_id=row[1], last_used_at=row[2])


def needs_touch(auth: Authenticated, now: datetime) -> bool:
    return auth.last_used_at is None or now - auth.last_used_at >= LAST_USED_RESOLUTION


async def touch(*, session: AsyncSession, token_id: uuid.UUID, now: datetime) -> None:
    """Record the use in its own short write transaction (call with no transaction open).

    The WHERE clause keeps concurrent requests of one token from writing more than once a
    minute. A failure here must not fail the request: the stamp is only a hint.
    """
    try:
        await begin_write(session)
        await session.execute(
            update(ApiToken)
            .where(
                ApiToken.id == token_id,
                or_(
                    ApiToken.last_used_at.is_(None),
                    ApiToken.last_used_at <= now - LAST_USED_RESOLUTION,
                ),
            )
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
        await session.commit()
    except DBAPIError as exc:
        await session.rollback()
        logger.warning("could not record an API token's last use: %s", exc.orig)


async def tokens_of_users(
    *, session: AsyncSession, user_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[ApiToken]]:
    """Every token of these users, newest first, in one query (for User.apiTokens)."""
    rows = await session.scalars(
        select(ApiToken)
        .where(ApiToken.user_id.in_(user_ids))
        .order_by(ApiToken.created_at.desc(), ApiToken.id)
    )
    found: dict[uuid.UUID, list[ApiToken]] = {user_id: [] for user_id in user_ids}
    for row in rows:
        found[row.user_id].append(row)
    return found


def may_manage_tokens_of(viewer: Viewer, user_id: uuid.UUID) -> bool:
    return viewer.is_admin or viewer.id == user_id


async def revoke(
    *, session: AsyncSession, viewer: Viewer, token_id: uuid.UUID, now: datetime
) -> ApiToken:
    """Revoke one token: the owner's or, for an admin, anyone's. Revoking twice keeps the
    first time. Another user's token is NOT_FOUND, so ids reveal nothing."""
    row = await session.get(ApiToken, token_id, with_for_update=True)
    if row is None or not may_manage_tokens_of(viewer, row.user_id):
        raise not_found("API token", "id")
    if row.revoked_at is None:
        row.revoked_at = now
        await session.flush()
    return row


async def revoke_all(*, session: AsyncSession, user_id: uuid.UUID, now: datetime) -> int:
    """Revoke every live token of a user; the number revoked."""
    result = await session.execute(
        update(ApiToken)
        .where(
            ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None), ApiToken.expires_at > now
        )
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def revoke_all_of(
    *, session: AsyncSession, viewer: Viewer, user_id: uuid.UUID, now: datetime
) -> int:
    if not may_manage_tokens_of(viewer, user_id) or await session.get(User, user_id) is None:
        raise not_found("user", "userId")
    return await revoke_all(session=session, user_id=user_id, now=now)
