"""Admins manage webhook endpoints through GraphQL; nobody else can."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import begin_write
from app.models import OutboxMessage, OutboxStatus
from tests.conftest import Clock, GraphQLClient
from tests.factories import book_first_slot, make_interview, make_world

PUBLIC_URL = "https://93.184.215.14/hooks"  # a public address literal: no DNS needed
CREATE = """
mutation ($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) {
    endpoint { id url events enabled } secret errors { code field message }
  }
}
"""
ENDPOINTS = "{ webhookEndpoints { edges { node { id url events enabled } } totalCount } }"
DELIVERIES = """
query ($id: ID!) { webhookDeliveries(endpointId: $id) {
  edges { node { id eventId eventType interviewId status attempts body } } } }
"""
UPDATE = """
mutation ($id: ID!, $enabled: Boolean!) {
  updateWebhookEndpoint(input: {id: $id, enabled: $enabled}) {
    endpoint { enabled } errors { code } } }
"""
REPLAY = """
mutation ($id: ID!) { replayWebhookDelivery(id: $id) {
  delivery { id eventId status } errors { code field } } }
"""
DELETE = (
    "mutation ($id: ID!) { deleteWebhookEndpoint(id: $id) { endpoint { id } errors { code } } }"
)


async def test_admin_registers_an_endpoint_reads_its_log_and_replays(
    session: AsyncSession, gql: GraphQLClient, settings: Settings, clock: Clock
) -> None:
    await begin_write(session)
    world = await make_world(session)
    await session.commit()
    admin = world.token(world.admin)

    member = await gql(CREATE, {"input": {"url": PUBLIC_URL}}, token=world.token(world.a.member))
    assert member["data"]["createWebhookEndpoint"]["errors"][0]["code"] == "FORBIDDEN"
    loopback = await gql(CREATE, {"input": {"url": "http://127.0.0.1:9/x"}}, token=admin)
    assert loopback["data"]["createWebhookEndpoint"]["errors"][0]["field"] == "url"
    private = await gql(CREATE, {"input": {"url": "http://10.1.2.3/x"}}, token=admin)
    assert private["data"]["createWebhookEndpoint"]["errors"][0]["field"] == "url"
    unknown = await gql(
        CREATE, {"input": {"url": PUBLIC_URL, "events": ["interview.booked", "nope"]}}, token=admin
    )
    assert unknown["data"]["createWebhookEndpoint"]["errors"][0]["field"] == "events.1"

    made = (
        await gql(
            CREATE, {"input": {"url": PUBLIC_URL, "events": ["interview.booked"]}}, token=admin
        )
    )["data"]["createWebhookEndpoint"]
    assert made["errors"] == [] and made["secret"].startswith("whsec_")
    endpoint_id = made["endpoint"]["id"]
    listed = (await gql(ENDPOINTS, token=admin))["data"]["webhookEndpoints"]
    assert listed["totalCount"] == 1
    assert listed["edges"][0]["node"]["events"] == ["interview.booked"]
    assert "secret" not in str(listed)
    unknown_log = await gql(DELIVERIES, {"id": str(world.admin.id)}, token=admin)
    assert unknown_log["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    refused = await gql(ENDPOINTS, token=world.token(world.a.member))
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    # Only the event type it asked for is queued, in the change's transaction
    await begin_write(session)
    interview = await make_interview(session, settings, world.a, clock.now)
    await begin_write(session)
    await book_first_slot(session, settings, world.a, interview, clock.now)
    log = (await gql(DELIVERIES, {"id": endpoint_id}, token=admin))["data"]["webhookDeliveries"]
    [delivery] = [edge["node"] for edge in log["edges"]]
    assert delivery["eventType"] == "interview.booked"
    assert delivery["interviewId"] == str(interview.id)
    assert delivery["status"] == "PENDING"
    assert f'"id":"{delivery["eventId"]}"' in delivery["body"]

    pending = (await gql(REPLAY, {"id": delivery["id"]}, token=admin))["data"]
    assert pending["replayWebhookDelivery"]["errors"][0]["code"] == "INVALID_STATE"
    await session.execute(update(OutboxMessage).values(status=OutboxStatus.DONE))
    await session.commit()
    replayed = (await gql(REPLAY, {"id": delivery["id"]}, token=admin))["data"]
    again = replayed["replayWebhookDelivery"]["delivery"]
    assert again["eventId"] == delivery["eventId"] and again["id"] != delivery["id"]
    assert again["status"] == "PENDING"

    off = (await gql(UPDATE, {"id": endpoint_id, "enabled": False}, token=admin))["data"]
    assert off["updateWebhookEndpoint"]["endpoint"]["enabled"] is False
    gone = (await gql(DELETE, {"id": endpoint_id}, token=admin))["data"]
    assert gone["deleteWebhookEndpoint"]["errors"] == []
    assert (await gql(ENDPOINTS, token=admin))["data"]["webhookEndpoints"]["totalCount"] == 0
