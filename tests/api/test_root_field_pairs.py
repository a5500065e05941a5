"""Every pair of root query fields runs in one operation without errors, on both databases.

GraphQL resolves root fields concurrently while the request has one database session; a
resolver that reached the session without its lock failed any query that also asked
another database-backed field ("concurrent operations are not permitted").
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLField,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    Undefined,
    build_schema,
    get_named_type,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.schema import schema as strawberry_schema
from app.webhooks.endpoints import create_endpoint
from tests.conftest import Clock, GraphQLClient
from tests.factories import World, book_first_slot, make_interview, make_world

SDL: GraphQLSchema = build_schema(strawberry_schema.as_str())


def _arguments(world: World, ids: dict[str, str]) -> dict[tuple[str | None, str], Any]:
    """Values for required arguments: (field, argument), or (None, argument) for any field."""
    return {
        ("proposal", "id"): ids["proposal"],
        ("interview", "id"): ids["interview"],
        ("node", "id"): ids["interview"],
        ("organization", "id"): str(world.a.organization.id),
        (None, "interviewId"): ids["interview"],
        (None, "proposalId"): ids["proposal"],
        (None, "organizationId"): str(world.a.organization.id),
        (None, "projectId"): str(world.a.project.id),
        (None, "timeZone"): "Europe/Paris",
        (None, "group"): "PENDING",
        (None, "ids"): [ids["interview"], ids["proposal"]],
        (None, "participantIds"): [str(world.a.member.id)],
        ("webhookDeliveries", "endpointId"): ids["endpoint"],
    }


PUBLIC_HOOK = "https://93.184.215.14/hooks"


def _has_default(arg: GraphQLArgument) -> bool:
    node = arg.ast_node
    return arg.default_value is not Undefined or (
        node is not None and node.default_value is not None
    )


def _literal(value: Any, type_: Any) -> str:
    if isinstance(get_named_type(type_), GraphQLEnumType):
        return str(value)
    return json.dumps(value)


def _selection(type_: Any, depth: int = 0) -> str:
    named = get_named_type(type_)
    if not isinstance(named, GraphQLObjectType):
        return ""  # a scalar, enum, or (for node) an interface: __typename below
    parts = ["__typename"]
    for name, field in named.fields.items():
        if any(isinstance(a.type, GraphQLNonNull) for a in field.args.values()):
            continue
        inner = get_named_type(field.type)
        if isinstance(inner, GraphQLObjectType):
            if depth < 2:
                parts.append(f"{name} {_selection(field.type, depth + 1)}")
        else:
            parts.append(name)
    return "{ " + " ".join(parts) + " }"


def _root_field(name: str, field: GraphQLField, values: dict[tuple[str | None, str], Any]) -> str:
    args = []
    for arg_name, arg in field.args.items():
        if not isinstance(arg.type, GraphQLNonNull) or _has_default(arg):
            continue
        key = (name, arg_name) if (name, arg_name) in values else (None, arg_name)
        assert key in values, f"add a value for the required argument {name}({arg_name}:)"
        args.append(f"{arg_name}: {_literal(values[key], arg.type)}")
    selection = _selection(field.type)
    if not selection and not isinstance(get_named_type(field.type), GraphQLEnumType):
        inner = get_named_type(field.type)
        selection = "" if not hasattr(inner, "fields") else "{ __typename }"
    return f"{name}{'(' + ', '.join(args) + ')' if args else ''} {selection}"


async def _fixtures(
    session: AsyncSession, settings: Settings, clock: Clock
) -> tuple[World, dict[str, str]]:
    world = await make_world(session)
    pending = await make_interview(session, settings, world.a, clock.now)
    booked = await make_interview(session, settings, world.b, clock.now)
    await book_first_slot(session, settings, world.b, booked, clock.now)
    hook = await create_endpoint(
        session=session, settings=settings, by=world.admin, url=PUBLIC_HOOK, events=None
    )
    await session.commit()
    return world, {
        "interview": str(pending.id),
        "proposal": str(world.a.proposal.id),
        "endpoint": str(hook.endpoint.id),
    }


async def test_every_pair_of_root_fields_runs_in_one_operation(
    session: AsyncSession, settings: Settings, clock: Clock, gql: GraphQLClient
) -> None:
    world, ids = await _fixtures(session, settings, clock)
    values = _arguments(world, ids)
    assert SDL.query_type is not None
    fields = {
        name: _root_field(name, field, values) for name, field in SDL.query_type.fields.items()
    }
    assert {"proposal", "outboxFailures", "myInterviews", "interview"} <= set(fields)
    token = world.token(world.admin)
    failures = []
    for first, second in itertools.combinations_with_replacement(sorted(fields), 2):
        query = f"{{ a: {fields[first]} b: {fields[second]} }}"
        body = await gql(query, token=token)
        if "errors" in body or body.get("data") is None:
            failures.append((first, second, body.get("errors")))
    assert failures == []


async def test_all_root_fields_at_once(
    session: AsyncSession, settings: Settings, clock: Clock, gql: GraphQLClient
) -> None:
    world, ids = await _fixtures(session, settings, clock)
    values = _arguments(world, ids)
    assert SDL.query_type is not None
    query = (
        "{ "
        + " ".join(
            f"f{i}: {_root_field(name, field, values)}"
            for i, (name, field) in enumerate(sorted(SDL.query_type.fields.items()))
        )
        + " }"
    )
    body = await gql(query, token=world.token(world.admin))
    assert "errors" not in body, body["errors"]
    assert body["data"]["f0"] is not None
