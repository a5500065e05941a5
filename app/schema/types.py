"""GraphQL object types: thin views over the models, nested objects through DataLoaders."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.dataloader import DataLoader

from app import models
from app.models import ParticipantKind as DomainParticipantKind
from app.models import SyncState as DomainSyncState
from app.notifications.inapp import in_app_texts
from app.pagination import page_size
from app.schema.calendars import CalendarConnection, own_connections
from app.schema.connections import Connection
from app.schema.context import Info
from app.schema.errors import query_errors
from app.schema.loaders import ParticipantRow, PersonRow
from app.schema.node import Node

if TYPE_CHECKING:
    from app.schema.organizations import Organization
    from app.schema.scheduling import SchedulingPreferences

OrganizationRef = Annotated["Organization", strawberry.lazy("app.schema.organizations")]
SchedulingRef = Annotated["SchedulingPreferences", strawberry.lazy("app.schema.scheduling")]

# strawberry.enum registers the domain enums in place; the names below are those classes.
for _enum in (
    models.Role,
    models.InterviewStatus,
    models.ProposalStatus,
    DomainParticipantKind,
    DomainSyncState,
):
    strawberry.enum(_enum)
Role = models.Role
InterviewStatus = models.InterviewStatus
ProposalStatus = models.ProposalStatus
ParticipantKind = DomainParticipantKind
SyncState = DomainSyncState


@strawberry.type(description="An API token, without its secret (shown once, at issue).")
class ApiToken:
    id: strawberry.ID
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None = strawberry.field(description="Recorded at most once a minute.")
    revoked_at: datetime | None

    @classmethod
    def of(cls, model: models.ApiToken) -> ApiToken:
        return cls(
            id=strawberry.ID(str(model.id)),
            created_at=model.created_at,
            expires_at=model.expires_at,
            last_used_at=model.last_used_at,
            revoked_at=model.revoked_at,
        )


@strawberry.type
class User(Node):
    id: strawberry.ID  # type: ignore[assignment]  # a plain value for Node's id
    email: str
    name: str
    role: Role
    time_zone: str
    organization_id: strawberry.ID | None

    @strawberry.field(
        description="Null unless you may see the organization (your own, or one you serve)."
    )
    async def organization(self, info: Info) -> OrganizationRef | None:
        if self.organization_id is None:
            return None
        viewer = info.context.require_viewer()
        org_id = uuid.UUID(self.organization_id)
        if viewer.id != uuid.UUID(self.id) and not viewer.sees_organization(org_id):
            return None
        return await _organization(info, org_id)

    @strawberry.field(description="Your own connected calendars; null for any other user.")
    async def calendar_connections(self, info: Info) -> list[CalendarConnection] | None:
        if str(info.context.require_viewer().id) != self.id:
            return None
        return await own_connections(info)

    @strawberry.field(
        description=(
            "Working hours and load limits; null unless this is you or you see the member's "
            "organization."
        )
    )
    async def scheduling(self, info: Info) -> SchedulingRef | None:
        from app.schema.scheduling import preferences_of

        viewer = info.context.require_viewer()
        if self.organization_id is None:
            return None
        if viewer.id != uuid.UUID(self.id) and not viewer.sees_organization(
            uuid.UUID(self.organization_id)
        ):
            return None
        model = await info.context.loaders.user_by_id.load(uuid.UUID(self.id))
        return preferences_of(model) if model is not None else None

    @strawberry.field(description="Newest first; null unless this is you or you are an admin.")
    async def api_tokens(self, info: Info) -> list[ApiToken] | None:
        viewer = info.context.require_viewer()
        if not viewer.is_admin and str(viewer.id) != self.id:
            return None
        rows = await info.context.loaders.api_tokens_by_user.load(uuid.UUID(self.id))
        return [ApiToken.of(row) for row in rows]

    @classmethod
    def of(cls, model: models.User | PersonRow) -> User:
        return cls(
            id=strawberry.ID(str(model.id)),
            email=model.email,
            name=model.name,
            role=model.role,
            time_zone=model.time_zone,
            organization_id=(
                strawberry.ID(str(model.organization_id)) if model.organization_id else None
            ),
        )


async def _organization(info: Info, organization_id: uuid.UUID) -> Organization:
    from app.schema.organizations import Organization

    model = await info.context.loaders.organization_by_id.load(organization_id)
    assert model is not None  # foreign keys guarantee it
    return Organization.of(model)


async def _user(info: Info, user_id: object) -> User:
    model = await info.context.loaders.user_by_id.load(user_id)  # type: ignore[arg-type]
    assert model is not None  # foreign keys guarantee it
    return User.of(model)


@strawberry.type
class Project(Node):
    # Plain values are plain attributes: Strawberry resolves them without a resolver call.
    model: strawberry.Private[models.Project]
    id: strawberry.ID  # type: ignore[assignment]  # a plain value for Node's id
    title: str
    organization_id: strawberry.ID

    @classmethod
    def of(cls, model: models.Project) -> Project:
        return cls(
            model=model,
            id=strawberry.ID(str(model.id)),
            title=model.title,
            organization_id=strawberry.ID(str(model.organization_id)),
        )

    @strawberry.field(description="The client organization the project belongs to.")
    async def organization(self, info: Info) -> OrganizationRef:
        # Whoever sees the project sees the name of the organization it belongs to.
        return await _organization(info, self.model.organization_id)

    @strawberry.field
    async def account_manager(self, info: Info) -> User:
        return await _user(info, self.model.account_manager_id)


@strawberry.type
class Proposal(Node):
    # None for a reference (`reference`): only the id is known until a field needs more.
    model: strawberry.Private[models.Proposal | None]
    proposal_id: strawberry.Private[uuid.UUID]
    id: strawberry.ID  # type: ignore[assignment]  # a plain value for Node's id

    @classmethod
    def of(cls, model: models.Proposal) -> Proposal:
        return cls(model=model, proposal_id=model.id, id=strawberry.ID(str(model.id)))

    @classmethod
    def reference(cls, proposal_id: uuid.UUID) -> Proposal:
        """A proposal whose row is read only if a field other than its id is asked for (an
        interview's `proposal { id }` reads nothing more: the interview names it)."""
        return cls(model=None, proposal_id=proposal_id, id=strawberry.ID(str(proposal_id)))

    async def _model(self, info: Info) -> models.Proposal:
        if self.model is None:
            self.model = await info.context.loaders.proposal_by_id.load(self.proposal_id)
            assert self.model is not None  # foreign keys guarantee it
        return self.model

    @strawberry.field(graphql_type=ProposalStatus)
    def status(self, info: Info) -> ProposalStatus | Awaitable[ProposalStatus]:
        if self.model is not None:
            return self.model.status
        return self._status(info)

    async def _status(self, info: Info) -> ProposalStatus:
        return (await self._model(info)).status

    @strawberry.field
    async def candidate(self, info: Info) -> User:
        return await _user(info, (await self._model(info)).candidate_id)

    @strawberry.field
    async def project(self, info: Info) -> Project:
        model = await self._model(info)
        project = await info.context.loaders.project_by_id.load(model.project_id)
        assert project is not None
        return Project.of(project)

    @strawberry.field(
        description=(
            "The latest `last` rounds (1 to 100, default 20), oldest first, whatever their status."
        )
    )
    async def interviews(self, info: Info, last: int | None = 20) -> list[Interview]:
        with query_errors():
            size = page_size(20 if last is None else last, "last")
        key = (self.proposal_id, size)
        rows = await info.context.loaders.latest_interviews_by_proposal.load(key)
        return [Interview.of(row) for row in rows]


@strawberry.type
class TimeWindow:
    start: datetime
    end: datetime


@strawberry.type
class Participant:
    error: strawberry.Private[str | None]  # sync_error, shown to whom may see it
    kind: ParticipantKind
    email: str
    sync_state: SyncState

    @strawberry.field(
        description="Why the invite or calendar event failed, in plain words; "
        "null for the candidate, shown to the hiring team, the account manager and admins."
    )
    def sync_error(self, info: Info) -> str | None:
        if info.context.require_viewer().role is models.Role.CANDIDATE:
            return None
        return self.error

    sync_checked_at: datetime | None = strawberry.field(
        description="When the reconcile sweep last checked this person's calendar copy."
    )

    user: User | None  # read with the participant (Loaders.people_by_interview)

    @classmethod
    def of(cls, row: ParticipantRow) -> Participant:
        return cls(
            error=row.sync_error,
            kind=row.kind,
            email=row.email,
            sync_state=row.sync_state,
            sync_checked_at=row.sync_checked_at,
            user=User.of(row.user) if row.user is not None else None,
        )


@strawberry.type
class Conference:
    url: str
    provider: str


@strawberry.type
class Cancellation:
    at: datetime
    reason: str | None
    by_id: strawberry.Private[object]

    @strawberry.field
    async def by(self, info: Info) -> User:
        return await _user(info, self.by_id)


@strawberry.type
class Interview(Node):
    # Plain values are plain attributes, set once by `of`: Strawberry resolves them without
    # a resolver call each (a page of interviews has hundreds of them).
    model: strawberry.Private[models.Interview]
    id: strawberry.ID  # type: ignore[assignment]  # a plain value for Node's id
    round: int
    status: InterviewStatus
    requested_at: datetime
    time_zone: str = strawberry.field(description="The hiring team's IANA time zone.")
    duration_minutes: int

    @strawberry.field
    async def requested_by(self, info: Info) -> User:
        return await _user(info, self.model.requested_by_id)

    # windows, participants and proposal: as read for the whole page by the list resolver
    # (app.schema.prefetch) when it did, else through the DataLoaders.
    @strawberry.field(graphql_type=list[TimeWindow])
    def windows(self, info: Info) -> list[TimeWindow] | Awaitable[list[TimeWindow]]:
        if self.prefetched_windows is not None:
            return self.prefetched_windows
        return self._load_windows(info)

    async def _load_windows(self, info: Info) -> list[TimeWindow]:
        rows = await info.context.loaders.windows_by_interview.load(self.model.id)
        return [TimeWindow(start=start, end=end) for start, end in rows]

    @strawberry.field(graphql_type=list[Participant])
    def participants(self, info: Info) -> list[Participant] | Awaitable[list[Participant]]:
        if self.prefetched_participants is not None:
            return self.prefetched_participants
        return self._load_participants(info)

    async def _load_participants(self, info: Info) -> list[Participant]:
        rows = await info.context.loaders.people_by_interview.load(self.model.id)
        return [Participant.of(row) for row in rows]

    move_count: int = strawberry.field(
        description="How many times the booking was moved (moveBooking)."
    )
    booked_start: datetime | None
    booked_end: datetime | None
    conference: Conference | None
    cancellation: Cancellation | None
    alternative_times_requested: bool
    alternative_times_message: str | None
    rescheduled_from_id: strawberry.ID | None = strawberry.field(
        description="The interview this one replaced when it was rescheduled."
    )

    @strawberry.field(description="The interview this one replaced (same proposal).")
    async def rescheduled_from(self, info: Info) -> Interview | None:
        rid = self.model.rescheduled_from_id
        if rid is None:
            return None
        row = await info.context.loaders.interview_by_id.load(rid)
        return Interview.of(row) if row is not None else None

    @strawberry.field(description="Who last changed the offered times: a member or staff.")
    async def last_edited_by(self, info: Info) -> User | None:
        if self.model.last_edited_by_id is None:
            return None
        return await _user(info, self.model.last_edited_by_id)

    last_edited_at: datetime | None

    @strawberry.field(graphql_type=Proposal)
    def proposal(self, info: Info) -> Proposal | Awaitable[Proposal]:
        if self.prefetched_proposal is not None:
            return self.prefetched_proposal
        return self._load_proposal(info)

    async def _load_proposal(self, info: Info) -> Proposal:
        proposal = await info.context.loaders.proposal_by_id.load(self.model.proposal_id)
        assert proposal is not None
        return Proposal.of(proposal)

    prefetched_windows: strawberry.Private[list[TimeWindow] | None] = None
    prefetched_participants: strawberry.Private[list[Participant] | None] = None
    prefetched_proposal: strawberry.Private[Proposal | None] = None

    @classmethod
    def of(cls, model: models.Interview) -> Interview:
        conference = None
        if model.conference_url is not None:
            conference = Conference(
                url=model.conference_url, provider=model.conference_provider or ""
            )
        cancellation = None
        if model.cancelled_at is not None:
            cancellation = Cancellation(
                at=model.cancelled_at, reason=model.cancel_reason, by_id=model.cancelled_by_id
            )
        rescheduled_from = model.rescheduled_from_id
        return cls(
            model=model,
            id=strawberry.ID(str(model.id)),
            round=model.round,
            status=model.status,
            requested_at=model.requested_at,
            time_zone=model.time_zone,
            duration_minutes=model.duration_minutes,
            move_count=model.move_count,
            booked_start=model.booked_start,
            booked_end=model.booked_end,
            conference=conference,
            cancellation=cancellation,
            alternative_times_requested=model.alternative_times_requested,
            alternative_times_message=model.alternative_times_message,
            rescheduled_from_id=(
                strawberry.ID(str(rescheduled_from)) if rescheduled_from else None
            ),
            last_edited_at=model.last_edited_at,
        )


@strawberry.type
class Application:
    proposal: Proposal
    action_required: bool = strawberry.field(
        description="A pending interview waits for the candidate to book or ask for other times."
    )


async def in_app_message(info: Info, notification: models.Notification) -> str:
    """A notification reached alone (node, nodes, a subscription): batched per request."""
    return await _in_app_loader(info).load(notification)


def _in_app_loader(info: Info) -> DataLoader[models.Notification, str]:
    state = info.context.request.state
    loader: DataLoader[models.Notification, str] | None = getattr(state, "in_app_texts", None)
    if loader is None:
        ctx = info.context
        viewer = ctx.require_viewer()

        async def load(rows: list[models.Notification]) -> list[str]:
            async with ctx.db() as session:
                texts = await in_app_texts(session, rows, viewer=viewer, settings=ctx.settings)
            return [texts[row.id] for row in rows]

        loader = DataLoader(load_fn=load, cache_key_fn=lambda row: row.id)
        state.in_app_texts = loader
    return loader


@strawberry.type
class Notification(Node):
    model: strawberry.Private[models.Notification]
    # Written for the reader when the page was read (app.notifications.inapp).
    text: strawberry.Private[str | None] = None

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.model.id))

    @strawberry.field
    def kind(self) -> str:
        return self.model.kind

    @strawberry.field(
        description="Written for you when read: your time zone, the current times and link."
    )
    async def message(self, info: Info) -> str:
        if self.text is not None:
            return self.text
        return await in_app_message(info, self.model)

    @strawberry.field
    def read(self) -> bool:
        return self.model.read_at is not None

    @strawberry.field
    def created_at(self) -> datetime:
        return self.model.created_at

    @strawberry.field
    async def interview(self, info: Info) -> Interview | None:
        if self.model.interview_id is None:
            return None
        loaders = info.context.loaders
        row = await loaders.interview_by_id.load(self.model.interview_id)
        if row is None:
            return None
        # Access is checked on nested objects too: an account manager moved off a project
        # keeps old notifications but no longer sees the interviews behind them.
        proposal = await loaders.proposal_by_id.load(row.proposal_id)
        project = await loaders.project_by_id.load(proposal.project_id) if proposal else None
        viewer = info.context.require_viewer()
        if proposal is None or project is None or not viewer.can_view_proposal(proposal, project):
            return None
        return Interview.of(row)


InterviewConnection = Connection[Interview]
NotificationConnection = Connection[Notification]
