"""The API as a mail link reaches it: `linkAccess`, and the fields a link may ask for.

A request with `X-Roundtable-Link: <token>` (and no bearer token) is checked twice: every
field of the operation must be on the list below (a validation rule, so nothing else is
resolved at all), and the resolvers that take an interview id answer only for the link's
interview and only the actions of its scope.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import strawberry
from graphql import FieldNode, GraphQLError, ValidationRule
from strawberry.extensions import SchemaExtension

from app.links.access import LinkAction as DomainLinkAction
from app.models import LinkScope as DomainLinkScope
from app.schema.context import Context, Info
from app.schema.permissions import LinkRefused
from app.schema.types import Interview, User

strawberry.enum(DomainLinkScope, name="LinkScope")
strawberry.enum(DomainLinkAction, name="LinkAction")
LinkScope = DomainLinkScope
LinkAction = DomainLinkAction

# Parent type -> fields a link may select. Everything else is refused before execution.
LINK_FIELDS: dict[str, frozenset[str]] = {
    "Query": frozenset({"interview", "availableSlots", "moveOptions", "linkAccess"}),
    "Mutation": frozenset(
        {"bookInterview", "moveBooking", "requestAlternativeTimes", "cancelInterview", "updateMe"}
    ),
    "LinkAccess": frozenset({"scope", "actions", "expiresAt", "email", "user", "interview"}),
    "Interview": frozenset(
        {
            "id",
            "round",
            "status",
            "requestedAt",
            "timeZone",
            "durationMinutes",
            "windows",
            "bookedStart",
            "bookedEnd",
            "moveCount",
            "conference",
            "cancellation",
            "alternativeTimesRequested",
            "alternativeTimesMessage",
            "proposal",
        }
    ),
    "Proposal": frozenset({"id", "status", "project", "candidate"}),
    "Project": frozenset({"id", "title", "organization", "accountManager"}),
    "Organization": frozenset({"id", "name"}),
    "User": frozenset({"id", "name", "email", "timeZone", "role"}),
    "TimeWindow": frozenset({"start", "end"}),
    "Conference": frozenset({"url", "provider"}),
    "Cancellation": frozenset({"at", "reason"}),
    "SlotAvailability": frozenset({"days", "warning", "uncheckedCalendars"}),
    "SlotDay": frozenset({"date", "slots"}),
    "InterviewPayload": frozenset({"interview", "errors"}),
    "UserPayload": frozenset({"user", "errors"}),
    "UserError": frozenset({"code", "message", "field"}),
}


class LinkFieldsRule(ValidationRule):
    """Refuse any field a link may not reach, introspection included."""

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        name = node.name.value
        if name == "__typename":
            return
        parent = self.context.get_parent_type()
        parent_name = getattr(parent, "name", "")
        if name not in LINK_FIELDS.get(parent_name, frozenset()):
            self.report_error(
                GraphQLError(
                    f"{parent_name}.{name} cannot be reached with a mail link",
                    node,
                    extensions={"code": "FORBIDDEN"},
                )
            )


class LinkFieldsOnly(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        if isinstance(context, Context) and context.viewer is None and context.link is not None:
            self.execution_context.validation_rules = (
                *self.execution_context.validation_rules,
                LinkFieldsRule,
            )
        yield


@strawberry.type(name="LinkAccess")
class LinkAccessType:
    scope: LinkScope
    actions: list[LinkAction]
    expires_at: datetime
    email: str = strawberry.field(description="Whom the link was mailed to.")
    user: User | None = strawberry.field(description="Null for an invitee.")
    interview: Interview


@strawberry.type
class LinkQuery:
    @strawberry.field(
        description="What the X-Roundtable-Link header reaches; null without that header."
    )
    async def link_access(self, info: Info) -> LinkAccessType | None:
        context = info.context
        if context.link_refusal is not None:
            raise LinkRefused(
                context.link_refusal.message,
                extensions={"code": "UNAUTHENTICATED", "link": context.link_refusal.problem.value},
            )
        link = context.link
        if link is None or context.viewer is not None:
            return None
        interview = await context.loaders.interview_by_id.load(link.interview_id)
        assert interview is not None  # the grant's foreign key cascades
        return LinkAccessType(
            scope=link.scope,
            actions=sorted(link.actions),
            expires_at=link.expires_at,
            email=link.grant.email,
            user=User.of(link.user) if link.user is not None else None,
            interview=Interview.of(interview),
        )
