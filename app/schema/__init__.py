"""The GraphQL schema, assembled from one module per domain."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.schema.config import StrawberryConfig

from app.config import Settings
from app.ops.graphql_metrics import OperationMetrics
from app.ops.tracing import schema_extensions
from app.schema.browsing import BrowsingQuery
from app.schema.calendars import CalendarMutation, CalendarQuery
from app.schema.execution import PlainValuesExecutor
from app.schema.input_limits import guard_root_fields
from app.schema.interviews import InterviewMutation, InterviewQuery
from app.schema.links import LinkFieldsOnly, LinkQuery
from app.schema.notifications import NotificationMutation, NotificationQuery
from app.schema.outbox import OutboxMutation, OutboxQuery
from app.schema.people import AdminMutation, ApiTokenMutation, MeMutation, PeopleQuery
from app.schema.proposals import ProposalMutation
from app.schema.ratelimits import MutationRateLimit
from app.schema.relay import NodeQuery
from app.schema.reporting import ClientErrors
from app.schema.reporting import RoundtableSchema as ReportingSchema
from app.schema.scheduling import SchedulingMutation, SchedulingQuery
from app.schema.subscriptions import Subscription
from app.schema.validation import DocumentLimits, ValidDocuments
from app.schema.webhooks import WebhookMutation, WebhookQuery


@strawberry.type
class Query(
    PeopleQuery,
    InterviewQuery,
    SchedulingQuery,
    BrowsingQuery,
    NodeQuery,
    NotificationQuery,
    CalendarQuery,
    OutboxQuery,
    LinkQuery,
    WebhookQuery,
):
    pass


@strawberry.type
class Mutation(
    InterviewMutation,
    SchedulingMutation,
    ProposalMutation,
    NotificationMutation,
    AdminMutation,
    ApiTokenMutation,
    CalendarMutation,
    OutboxMutation,
    MeMutation,
    WebhookMutation,
):
    pass


class RoundtableSchema(ReportingSchema):
    """Strawberry's schema, telling graphql-core's execution whether to suggest names.

    Validation's suggestions are governed by DocumentLimits; these are execution's, such as
    an enum value in a variable ("Did you mean the enum value 'PENDING'?"). Errors are
    logged by kind (app.schema.reporting).
    """

    hide_suggestions = True

    def _get_custom_context_kwargs(
        self, operation_extensions: dict[str, Any] | None = None, *, sync: bool = False
    ) -> dict[str, Any]:
        kwargs = super()._get_custom_context_kwargs(operation_extensions, sync=sync)
        return {**kwargs, "hide_suggestions": self.hide_suggestions}


def build_schema(settings: Settings) -> strawberry.Schema:
    guard_root_fields(Query, Mutation)
    valid = ValidDocuments()  # shared by the requests of this schema (validation.py)
    schema = RoundtableSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(auto_camel_case=True),
        execution_context_class=PlainValuesExecutor,  # plain attributes completed directly
        extensions=[
            # Classes or factories, never shared instances: each request gets its own state.
            lambda: DocumentLimits(settings, valid),
            ClientErrors,  # masks unexpected exceptions; codes on the rest (app.schema.reporting)
            LinkFieldsOnly,  # a mail link reaches its interview's fields and nothing else
            MutationRateLimit,
            OperationMetrics,
            *schema_extensions(),  # spans per operation when traces are on
        ],
    )
    schema.hide_suggestions = not settings.introspection
    return schema


# For `strawberry export-schema app.schema:schema`; the SDL does not depend on settings.
schema = build_schema(Settings.model_construct())
