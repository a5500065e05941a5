"""Authentication on every root field: no token, no data."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError
from strawberry.permission import BasePermission

from app.schema.context import Info


class IsAuthenticated(BasePermission):
    message = "Authentication required: send Authorization: Bearer <token>"
    error_extensions = {"code": "UNAUTHENTICATED"}

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return info.context.viewer is not None


class LinkRefused(GraphQLError):
    """A link header that reaches nothing: changed, expired or revoked (never masked)."""


class IsAuthenticatedOrLink(BasePermission):
    """Root fields a mail link may reach as well; what it reaches is checked in the resolver."""

    message = IsAuthenticated.message
    error_extensions = {"code": "UNAUTHENTICATED"}

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        context = info.context
        if context.viewer is not None or context.link is not None:
            return True
        if context.link_refusal is not None:
            raise LinkRefused(
                context.link_refusal.message,
                extensions={"code": "UNAUTHENTICATED", "link": context.link_refusal.problem.value},
            )
        return False
