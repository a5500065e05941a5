"""The GraphQL schema, assembled from one module per domain."""

from __future__ import annotations

import strawberry
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)
from strawberry.schema.config import StrawberryConfig

from app.config import Settings
from app.ops.graphql_metrics import OperationMetrics
from app.schema.browsing import BrowsingQuery
from app.schema.calendars import CalendarMutation, CalendarQuery
from app.schema.interviews import InterviewMutation, InterviewQuery
from app.schema.links import LinkFieldsOnly, LinkQuery
from app.schema.notifications import NotificationMutation, NotificationQuery
from app.schema.outbox import OutboxMutation, OutboxQuery
from app.schema.people import AdminMutation, MeMutation, PeopleQuery
from app.schema.proposals import ProposalMutation
from app.schema.relay import NodeQuery
from app.schema.reporting import ClientErrors, RoundtableSchema


@strawberry.type
class Query(
    PeopleQuery,
    InterviewQuery,
    BrowsingQuery,
    NodeQuery,
    NotificationQuery,
    CalendarQuery,
    OutboxQuery,
    LinkQuery,
):
    pass


@strawberry.type
class Mutation(
    InterviewMutation,
    ProposalMutation,
    NotificationMutation,
    AdminMutation,
    CalendarMutation,
    OutboxMutation,
    MeMutation,
):
    pass


def build_schema(settings: Settings) -> strawberry.Schema:
    return RoundtableSchema(
        query=Query,
        mutation=Mutation,
        config=StrawberryConfig(auto_camel_case=True),
        extensions=[
            # Classes or factories, never shared instances: each request gets its own state.
            lambda: QueryDepthLimiter(max_depth=settings.max_query_depth),
            lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),
            lambda: MaxAliasesLimiter(max_alias_count=settings.max_query_aliases),
            ClientErrors,  # masks unexpected exceptions; codes on the rest (app.schema.reporting)
            LinkFieldsOnly,  # a mail link reaches its interview's fields and nothing else
            OperationMetrics,
        ],
    )


# For `strawberry export-schema app.schema:schema`; the SDL does not depend on settings.
schema = build_schema(Settings.model_construct())
