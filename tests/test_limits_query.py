"""Document limits: fragment bombs, depth, aliases, cost, tokens, introspection, suggestions."""

from __future__ import annotations

import enum
from pathlib import Path

import httpx
import pytest
import strawberry
from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode, Visitor, parse, visit
from graphql.utilities import get_introspection_query
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app import cli, config
from app.config import Settings, load_settings
from app.main import create_app
from app.schema import RoundtableSchema, build_schema
from app.schema.query_limits import QueryLimits, check_document
from tests.conftest import Clock, GraphQLClient, make_settings
from tests.factories import World, make_interview, make_world

DEFAULTS = Settings.model_construct()
LIMITS = QueryLimits(
    max_depth=DEFAULTS.max_query_depth,
    max_aliases=DEFAULTS.max_query_aliases,
    max_cost=DEFAULTS.max_query_cost,
)
SCHEMA = build_schema(DEFAULTS)._schema


def fragment_bomb(levels: int) -> str:
    """The review's bomb: fragment F_i spreads F_(i-1) twice; 2^levels fields once expanded."""
    lines = [f"query {{ ...F{levels} }}", "fragment F0 on Query { me { id } }"]
    lines += [f"fragment F{i} on Query {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, levels + 1)]
    return "\n".join(lines)


def selection_nodes(query: str) -> int:
    """Selections written in the document, each fragment's once."""

    class Count(Visitor):
        total = 0

        def enter(self, node: object, *_: object) -> None:
            if isinstance(node, FieldNode | InlineFragmentNode | FragmentSpreadNode):
                Count.total += 1

    visit(parse(query), Count())
    return Count.total


def measure(query: str, limits: QueryLimits = LIMITS) -> tuple[list[str], int]:
    errors, visited = check_document(SCHEMA, parse(query), limits)
    return [e.extensions["code"] for e in errors if e.extensions], visited


# The issue's cost attack: 20 aliased pages of interviews, their rounds and windows.
COST_ATTACK = (
    "{ "
    + " ".join(
        f"a{i}: myInterviews(group: UPCOMING, first: 100) {{ edges {{ node {{ "
        "proposal { interviews { windows { start end } } } } } }"
        for i in range(20)
    )
    + " }"
)

# What the product's screens ask for, at the largest page.
SCREENS = {
    "readme": "{ me { name role } myInterviews(group: PENDING, first: 100) "
    "{ edges { node { id round windows { start end } } } } }",
    "interview list": """{ myInterviews(group: UPCOMING, first: 100) { edges { cursor node {
        id round status requestedAt timeZone durationMinutes bookedStart bookedEnd
        requestedBy { id name } windows { start end }
        participants { kind email syncState syncError user { id name email } }
        conference { url provider } cancellation { at reason by { id name } }
        proposal { id status candidate { id name email } project { id title accountManager { id name } }
                   interviews { id round status bookedStart windows { start end } } }
      } } pageInfo { hasNextPage endCursor } } }""",
    "notifications": """{ notifications(first: 100) { edges { cursor node {
        id kind message read createdAt
        interview { id round status windows { start end } participants { email user { name } }
                    proposal { id candidate { name } project { title } } }
      } } pageInfo { hasNextPage endCursor } } }""",
    "applications": """{ myApplications { actionRequired proposal { id status
        project { title accountManager { name } }
        interviews { id round status windows { start end } bookedStart conference { url } } } } }""",
    "dashboard": """{ me { id name role timeZone calendarConnections { provider state } }
      myInterviews(group: PENDING, first: 100) { edges { node { id round windows { start end }
        participants { email syncState } proposal { id candidate { name } project { title } } } } }
      notifications(first: 100, unreadOnly: true) { edges { node { id message interview { id } } } }
      myCalendarConnections { provider state brokenReason } }""",
}


def test_fragment_bomb_is_refused_after_linear_work() -> None:
    for levels in (22, 40):
        query = fragment_bomb(levels)
        codes, visited = measure(query)
        assert codes == ["QUERY_TOO_COMPLEX"]
        # Each selection written in the document is looked at once: 2 per fragment, where
        # expanding the spreads would visit 2^levels fields.
        assert visited == selection_nodes(query) == 2 * levels + 3
    assert len(fragment_bomb(22).encode()) == 902  # the review's was 884 bytes


def test_fragment_bomb_of_leaves_is_measured_linearly() -> None:
    query = fragment_bomb(40).replace("me { id }", "__typename")
    codes, visited = measure(query)
    assert codes == []  # nothing to read: the execution merges the spreads into one field
    assert visited == selection_nodes(query)
    aliased = fragment_bomb(40).replace("me { id }", "a: __typename")
    assert measure(aliased)[0] == ["TOO_MANY_ALIASES"]


def test_fragment_cycles_are_refused_without_recursing() -> None:
    query = "query { ...A } fragment A on Query { me { id } ...B } fragment B on Query { ...A }"
    errors, visited = check_document(SCHEMA, parse(query), LIMITS)
    assert errors == [] and visited <= selection_nodes(query)  # NoFragmentCycles refuses it
    result = build_schema(DEFAULTS).execute_sync(query)
    assert result.errors and "Cannot spread fragment 'A' within itself" in str(result.errors)


def test_depth_limit_at_its_edge() -> None:
    def nested(levels: int) -> str:
        """myApplications, then proposal / interviews alternating: `levels` object fields."""
        names = ["myApplications"] + ["proposal", "interviews(last: 1)"] * levels
        query = "id"
        for name in reversed(names[:levels]):
            query = f"{name} {{ {query} }}"
        return "{ " + query + " }"

    assert measure(nested(LIMITS.max_depth))[0] == []
    assert measure(nested(LIMITS.max_depth + 1))[0] == ["QUERY_TOO_DEEP"]
    assert measure("{ me { id } }") == ([], 2)


def test_alias_limit_at_its_edge() -> None:
    def aliases(n: int) -> str:
        return "{ " + " ".join(f"a{i}: me {{ id }}" for i in range(n)) + " }"

    assert measure(aliases(LIMITS.max_aliases))[0] == []
    assert measure(aliases(LIMITS.max_aliases + 1))[0] == ["TOO_MANY_ALIASES"]


def test_cost_counts_pages_and_nested_lists_at_its_edge() -> None:
    # myInterviews(first: N) { edges { node { id } } } reads about 3N objects.
    def pages(*sizes: int) -> str:
        return (
            "{ "
            + " ".join(
                f"p{i}: myInterviews(group: PENDING, first: {n}) {{ edges {{ node {{ id }} }} }}"
                for i, n in enumerate(sizes)
            )
            + " }"
        )

    limits = QueryLimits(max_depth=10, max_aliases=30, max_cost=300)
    assert measure(pages(50, 50), limits)[0] == []
    assert measure(pages(50, 51), limits)[0] == ["QUERY_TOO_COMPLEX"]
    # A variable page size is priced at the cap (100), its value unknown while validating.
    variable = (
        "query($n: Int) { myInterviews(group: PENDING, first: $n) { edges { node { id } } } }"
    )
    assert check_document(SCHEMA, parse(variable), limits)[0] == []
    assert measure(pages(100, 1), limits)[0] == ["QUERY_TOO_COMPLEX"]
    # A nested list multiplies: windows (up to 50) under every one of the page's interviews:
    # 2 x (connection + edge + node + 50 windows).
    windows = "{ myInterviews(group: PENDING, first: 2) { edges { node { windows { start } } } } }"
    assert measure(windows, QueryLimits(10, 30, 2 * 53))[0] == []
    assert measure(windows, QueryLimits(10, 30, 2 * 53 - 1))[0] == ["QUERY_TOO_COMPLEX"]


def test_every_screen_is_admitted_and_the_cost_attack_is_not() -> None:
    for name, query in SCREENS.items():
        assert measure(query)[0] == [], name
    assert measure(COST_ATTACK)[0] == ["QUERY_TOO_COMPLEX"]
    # One page of the attack is a heavy but legitimate read; twenty are refused.
    one_page = COST_ATTACK.split(" a1:")[0] + " }"
    assert measure(one_page)[0] == []


def test_standard_introspection_query_fits_the_limits() -> None:
    assert measure(get_introspection_query(descriptions=True))[0] == []
    nested = "{ __schema { types { fields { name } } } }"
    for _ in range(4):
        nested = nested.replace("fields { name }", "fields { type { fields { name } } }")
    assert measure(nested)[0] == ["QUERY_TOO_COMPLEX"]


@pytest.fixture
async def world(session: AsyncSession) -> World:
    return await make_world(session)


async def test_screens_run_and_attacks_are_refused_over_http(
    gql: GraphQLClient, world: World, session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    await make_interview(session, settings, world.a, clock.now)
    token = world.token(world.a.member)
    for name, query in SCREENS.items():
        body = await gql(query, token=token)
        assert "errors" not in body, (name, body)
    body = await gql(COST_ATTACK, token=token)
    assert body["data"] is None
    assert body["errors"][0]["extensions"] == {"code": "QUERY_TOO_COMPLEX"}
    for levels in (22, 40):
        body = await gql(fragment_bomb(levels))  # no token: refused before anything runs
        assert body["errors"][0]["extensions"] == {"code": "QUERY_TOO_COMPLEX"}


async def test_proposal_interviews_are_bounded_by_last(
    gql: GraphQLClient, world: World, session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    for _ in range(3):
        await make_interview(session, settings, world.a, clock.now)
    query = "query($last: Int) { proposal(id: $id) { interviews(last: $last) { round } } }"
    query = query.replace("query($last: Int)", "query($id: ID!, $last: Int)")
    token = world.token(world.a.member)
    rounds = [
        [i["round"] for i in body["data"]["proposal"]["interviews"]]
        for body in [
            await gql(query, {"id": str(world.a.proposal.id), "last": last}, token=token)
            for last in (1, 2, 100)
        ]
    ]
    assert rounds == [[3], [2, 3], [1, 2, 3]]
    for bad in (0, 101):
        body = await gql(query, {"id": str(world.a.proposal.id), "last": bad}, token=token)
        assert body["errors"][0]["extensions"] == {"code": "VALIDATION", "field": "last"}


async def _post(app_settings: Settings, engine: AsyncEngine, clock: Clock, query: str) -> dict:  # type: ignore[type-arg]
    app = create_app(app_settings, engine=engine, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.post("/graphql", json={"query": query})
    return response.json()  # type: ignore[no-any-return]


def test_introspection_is_on_in_serve_and_off_in_api_unless_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # serve keeps its generated key under ./var
    monkeypatch.setattr(config, "_current", config._current)  # serve installs its settings
    monkeypatch.delenv("ROUNDTABLE_INTROSPECTION", raising=False)
    monkeypatch.setenv("ROUNDTABLE_SECRET_KEY", "k" * 40)
    assert cli._embedded_settings().introspection is True
    assert load_settings().introspection is False
    monkeypatch.setenv("ROUNDTABLE_INTROSPECTION", "on")
    assert load_settings().introspection is True
    monkeypatch.setenv("ROUNDTABLE_INTROSPECTION", "off")
    assert cli._embedded_settings().introspection is False


async def test_introspection_and_suggestions_follow_the_setting(
    engine: AsyncEngine, database_url: str, clock: Clock, clean_db: None
) -> None:
    introspect = "{ __schema { queryType { name } } }"
    typo = "{ mee { id } }"
    off = make_settings(database_url)  # the `api` default
    body = await _post(off, engine, clock, introspect)
    assert "introspection" in body["errors"][0]["message"].lower()
    assert body["errors"][0]["extensions"] == {"code": "INTROSPECTION_DISABLED"}
    body = await _post(off, engine, clock, typo)
    assert body["errors"][0]["message"] == "Cannot query field 'mee' on type 'Query'."
    on = make_settings(database_url, introspection=True)
    body = await _post(on, engine, clock, introspect)
    assert body["data"] == {"__schema": {"queryType": {"name": "Query"}}}
    body = await _post(on, engine, clock, typo)
    assert "Did you mean 'me'?" in body["errors"][0]["message"]


async def test_token_limit_at_its_edge(gql: GraphQLClient, world: World) -> None:
    def ids(n: int) -> str:  # 15 tokens, n strings and the end of the document
        return "mutation { markNotificationsRead(ids: [" + ' "1"' * n + " ]) { errors { field } } }"

    token = world.token(world.a.member)
    at_limit = await gql(ids(DEFAULTS.max_query_tokens - 16), token=token)
    # Parsed and run: the list is then refused by its own cap, as data.
    errors = at_limit["data"]["markNotificationsRead"]["errors"]
    assert errors == [{"field": "ids"}]
    over = await gql(ids(DEFAULTS.max_query_tokens - 15), token=token)
    assert over["data"] is None
    assert over["errors"][0]["extensions"] == {"code": "QUERY_TOO_LARGE"}


class Colour(enum.Enum):
    RED = "RED"


def test_execution_suggestions_follow_the_schema_setting() -> None:
    """An enum value in a variable is coerced while executing, not validating."""

    @strawberry.type
    class Q:
        @strawberry.field
        def echo(self, colour: strawberry.enum(Colour)) -> str:  # type: ignore[valid-type]
            return str(colour.value)

    for hide in (True, False):
        schema = RoundtableSchema(query=Q)
        schema.hide_suggestions = hide
        result = schema.execute_sync(
            "query($c: Colour!) { echo(colour: $c) }", variable_values={"c": "RE"}
        )
        assert result.errors
        assert ("Did you mean" in result.errors[0].message) is not hide, result.errors


def test_documents_beyond_graphql_cores_own_budgets_carry_a_code() -> None:
    """Nesting the parser refuses, and fragment chains validation gives up on."""
    schema = build_schema(DEFAULTS)
    nested = "{ " + "me { " * 300 + "id" + " }" * 300 + " }"
    chain = "query { ...F0 } " + " ".join(
        f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(240)
    )
    chain += " fragment F240 on Query { me { id } }"
    many = "{ me { " + " id" * 1900 + " } }"
    for query, code in [
        (nested, "QUERY_TOO_DEEP"),
        (chain, "QUERY_TOO_COMPLEX"),
        (many, "QUERY_TOO_COMPLEX"),
    ]:
        result = schema.execute_sync(query)
        assert result.errors and result.errors[0].extensions == {"code": code}, result.errors
    _, visited = check_document(SCHEMA, parse(chain), LIMITS)
    assert visited == selection_nodes(chain)


def test_the_limits_also_work_as_a_plain_graphql_core_rule() -> None:
    from graphql import specified_rules, validate

    from app.schema.query_limits import limits_rule

    rules = [*specified_rules, limits_rule(LIMITS)]
    errors = validate(SCHEMA, parse(fragment_bomb(40)), rules)
    assert [e.extensions for e in errors] == [{"code": "QUERY_TOO_COMPLEX"}]
    assert validate(SCHEMA, parse(SCREENS["readme"]), rules) == []


async def test_a_valid_document_is_validated_once_and_a_refused_one_every_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Parse and validation are cached for documents that passed; refusals are not."""
    from app.schema import validation

    checked: list[str] = []
    real_check = validation.check_document

    def counting_check(*args: object, **kwargs: object) -> object:
        checked.append("check")
        return real_check(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(validation, "check_document", counting_check)
    schema = build_schema(DEFAULTS)
    for _ in range(3):
        result = await schema.execute("{ __typename }")
        assert result.errors is None and result.data == {"__typename": "Query"}
    assert len(checked) == 1
    for _ in range(3):
        result = await schema.execute(COST_ATTACK)
        assert result.errors and result.errors[0].extensions == {"code": "QUERY_TOO_COMPLEX"}
    assert len(checked) == 4
    bad = "{ __typename nosuchfield }"
    for _ in range(2):
        result = await schema.execute(bad)
        assert result.errors and "nosuchfield" in result.errors[0].message
    assert len(checked) == 6
