"""The committed schema.graphql is the API: it must match the code (run `make schema`)."""

from __future__ import annotations

from strawberry.printer import print_schema

from app.schema import schema
from tests.conftest import ROOT


def test_committed_schema_matches_the_code() -> None:
    committed = (ROOT / "schema.graphql").read_text()
    assert committed.strip() == print_schema(schema).strip(), (
        "schema.graphql is out of date: run `make schema` and commit it"
    )


def test_contract_names_clients_rely_on_exist() -> None:
    sdl = print_schema(schema)
    for name in [
        "me: User!",
        "proposal(id: ID!): Proposal",
        "interview(id: ID!): Interview",
        "myInterviews(group: InterviewGroup!, first: Int = 20, after: String = null)",
        # Arguments may be added after the contract's (kinds): no closing parenthesis here.
        "notifications(unreadOnly: Boolean = false, first: Int = 20, after: String = null",
        "durationMinutes: Int = 30",
        "myApplications: [Application!]!",
        "availableSlots(interviewId: ID!, timeZone: String!): SlotAvailability!",
        "requestInterview(input: RequestInterviewInput!): InterviewPayload!",
        "updateInterviewAvailability(input: UpdateAvailabilityInput!): InterviewPayload!",
        "bookInterview(input: BookInterviewInput!): InterviewPayload!",
        "requestAlternativeTimes(input: AlternativeTimesInput!): InterviewPayload!",
        "cancelInterview(input: CancelInterviewInput!): InterviewPayload!",
        "rescheduleInterview(input: RescheduleInterviewInput!): InterviewPayload!",
        # upcomingInterviews came later, with a default: the contract's call stays valid.
        "hireCandidate(proposalId: ID!, upcomingInterviews: UpcomingInterviews! = KEEP)",
        "markNotificationsRead(ids: [ID!]!): MarkReadPayload!",
        "issueApiToken(userId: ID!): ApiTokenPayload!",
    ]:
        assert name in sdl, name
