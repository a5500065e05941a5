"""The GraphQL schema, assembled from one module per domain."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)
from strawberry.schema.config import StrawberryConfig

from app.config import Settings
from app.ops.graphql_metrics import OperationMetrics
from app.schema.calendars import CalendarMutation, CalendarQuery
from app.schema.errors import UserInputError
from app.schema.interviews import InterviewMutation, InterviewQuery
from app.schema.links import LinkFieldsOnly, LinkQuery
from app.schema.notifications import NotificationMutation, NotificationQuery
from app.schema.outbox import OutboxMutation, OutboxQuery
from app.schema.people import AdminMutation, MeMutation, PeopleQuery


@strawberry.type
class Query(
    PeopleQuery, InterviewQuery, NotificationQuery, CalendarQuery, OutboxQuery, LinkQuery
):
    pass


@strawberry.type
class Mutation(
    InterviewMutation,
    NotificationMutation,
    AdminMutation,
    CalendarMutation,
    OutboxMutation,
    MeMutation,
):
    pass


def should_mask(error: GraphQLError) -> bool:
    """Hide unexpected exceptions; show validation, permission and user-input errors."""
    original = error.original_error
    if original is None:
        return False  # a syntax or validation error of the query itself
    if isinstance(original, UserInputError):
        return False
    extensions = getattr(original, "extensions", None) or {}
    return extensions.get("code") != "UNAUTHENTICATED"


def build_schema(settings: Settings) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        config=StrawberryConfig(auto_camel_case=True),
        extensions=[
            # Classes or factories, never shared instances: each request gets its own state.
            lambda: QueryDepthLimiter(max_depth=settings.max_query_depth),
            lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),
            lambda: MaxAliasesLimiter(max_alias_count=settings.max_query_aliases),
            lambda: MaskErrors(should_mask_error=should_mask),
            LinkFieldsOnly,  # a mail link reaches its interview's fields and nothing else
            OperationMetrics,
        ],
    )


# For `strawberry export-schema app.schema:schema`; the SDL does not depend on settings.
schema = build_schema(Settings.model_construct())
