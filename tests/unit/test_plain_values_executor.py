"""The short path for plain attributes answers exactly what graphql-core's own path answers.

Each query runs on two schemas built from the same types: one with Roundtable's executor
(app.schema.execution), one with Strawberry's. Data, error messages, paths and locations
must be the same, including where a plain value is refused and null propagates.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, NewType

import pytest
import strawberry
from strawberry.schema.config import StrawberryConfig

from app.schema.execution import PlainValuesExecutor, plain_field


@strawberry.enum
class Colour(enum.Enum):
    RED = "RED"
    BLUE = "BLUE"


Even = NewType("Even", int)
EVEN = strawberry.scalar(
    name="Even",
    serialize=lambda value: value if value % 2 == 0 else None,  # None: a refused value
    parse_value=int,
)

Anything = NewType("Anything", object)
ANYTHING = strawberry.scalar(name="Anything", serialize=lambda value: value, parse_value=str)


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Tag(Named):  # implements an interface: Strawberry gives it is_type_of
    weight: int


@strawberry.type
class Place:
    city: str
    zone: str | None

    @strawberry.field
    async def checked_city(self) -> str:  # awaited inside the short path's objects
        if self.city == "Rome":
            raise ValueError("no checks in Rome")
        return self.city


@strawberry.type
class Audited:
    note: str

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:  # a type's own check reads the info
        return isinstance(obj, cls) and info.field_name == "audited"


@strawberry.type
class Person:
    id: strawberry.ID
    name: str
    age: int
    even: Even
    colour: Colour
    born: datetime
    nickname: str | None
    extra: Anything | None  # a scalar that takes any value, even an exception
    place: Place | None
    best_tag: Tag | None  # Tag checks its values (is_type_of)
    home: Place  # non-null: a refused child nulls the person
    tags: list[Tag]
    scores: list[int | None] | None
    stops: list[Place | None]  # nullable items: a refused one is nulled alone
    audited: Audited | None
    visits: list[Place]  # non-null items: a refused one nulls the list, then the person

    @strawberry.field
    async def slow_name(self) -> str:
        return self.name.upper()

    @strawberry.field
    async def failing(self) -> str:
        raise ValueError("the resolver failed")

    @strawberry.field
    def shout(self, word: str = "hey") -> str:
        return word.upper()


def _person(**changes: Any) -> Person:
    values: dict[str, Any] = {
        "id": strawberry.ID("p1"),
        "name": "Ada",
        "age": 36,
        "even": 4,
        "colour": Colour.BLUE,
        "born": datetime(1990, 12, 10, 9, 30, tzinfo=UTC),
        "nickname": None,
        "extra": "x",
        "best_tag": Tag(name="c", weight=3),
        "place": Place(city="London", zone="Europe/London"),
        "home": Place(city="Kathmandu", zone=None),
        "tags": [Tag(name="a", weight=1), Tag(name="b", weight=2)],
        "scores": [1, None, 3],
        "stops": [Place(city="Pune", zone=None), None],
        "visits": [Place(city="Lima", zone="America/Lima")],
        "audited": Audited(note="seen"),
    }
    values.update(changes)
    return Person(**values)


PEOPLE: dict[str, Person] = {
    "fine": _person(),
    "no_place": _person(place=None),
    "null_name": _person(name=None),  # non-null String holding None
    "bad_age": _person(age="old"),  # Int holding a string
    "bad_colour": _person(colour="GREEN"),  # not an enum member
    "odd": _person(even=3),  # the scalar serializes it to None
    "null_city": _person(place=Place(city=None, zone="x")),  # type: ignore[arg-type]
    "null_home": _person(home=None),  # non-null object holding None
    "home_refused": _person(home=Place(city=None, zone=None)),  # type: ignore[arg-type]
    "exception_value": _person(nickname=ValueError("a value that is an exception")),
    "exception_extra": _person(extra=ValueError("an exception the scalar would take")),
    "exception_place": _person(place=ValueError("an object that is an exception")),
    "wrong_tag": _person(best_tag=Place(city="Oslo", zone=None)),  # not a Tag
    "wrong_tags": _person(tags=[Tag(name="a", weight=1), Place(city="Oslo", zone=None)]),
    "bad_scores": _person(scores=[1, "two"]),
    "scores_not_a_list": _person(scores=7),
    "stop_refused": _person(stops=[Place(city=None, zone=None), Place(city="Goa", zone=None)]),
    "visit_refused": _person(visits=[Place(city="Rome", zone=None), Place(city=None, zone=None)]),
    "visit_missing": _person(visits=[None]),
    "visit_to_rome": _person(visits=[Place(city="Rome", zone=None)]),
    "stop_in_rome": _person(
        stops=[Place(city="Rome", zone=None)], place=Place(city="Rome", zone=None)
    ),
    "stop_exception": _person(stops=[ValueError("an item that is an exception")]),
}


@strawberry.type
class Query:
    @strawberry.field
    def person(self, key: str) -> Person | None:
        return PEOPLE[key]

    @strawberry.field
    def people(self) -> list[Person | None]:
        return [PEOPLE["fine"], PEOPLE["null_name"], PEOPLE["no_place"]]


def _schemas() -> tuple[strawberry.Schema, strawberry.Schema]:
    config = StrawberryConfig(auto_camel_case=True, scalar_map={Even: EVEN, Anything: ANYTHING})
    fast = strawberry.Schema(
        query=Query, types=[Tag], config=config, execution_context_class=PlainValuesExecutor
    )
    plain = strawberry.Schema(query=Query, types=[Tag], config=config)
    return fast, plain


FIELDS = """id name age even colour born nickname slowName shout(word: "hi")
  extra place { city zone } home { city zone } tags { name weight __typename }
  bestTag { name weight } scores stops { city zone checkedCity } visits { city checkedCity }
  audited { note }"""
QUERIES = [
    *(f'{{ person(key: "{key}") {{ {FIELDS} }} }}' for key in PEOPLE),
    f"{{ people {{ {FIELDS} }} }}",
    '{ person(key: "fine") { a: name b: name name: age ...F place { ... on Place { city } } } }'
    " fragment F on Person { colour home { zone } }",
    'query($s: Boolean!) { person(key: "fine") { name @skip(if: $s) age @include(if: $s) } }',
    '{ person(key: "fine") { failing name } }',
    '{ person(key: "fine") { __typename place { __typename city } } }',
]


def _shape(result: Any) -> dict[str, Any]:
    errors = [
        (e.message, e.path, [(loc.line, loc.column) for loc in e.locations or []])
        for e in result.errors or []
    ]
    return {"data": result.data, "errors": sorted(errors, key=repr)}


@pytest.mark.parametrize("query", QUERIES)
async def test_the_short_path_answers_what_graphql_core_answers(query: str) -> None:
    fast, plain = _schemas()
    variables = {"s": False}
    expected = _shape(await plain.execute(query, variable_values=variables))
    got = _shape(await fast.execute(query, variable_values=variables))
    assert got == expected


async def test_refused_plain_values_are_errors_with_their_paths() -> None:
    fast, _ = _schemas()
    result = await fast.execute('{ person(key: "null_city") { name place { city zone } } }')
    assert result.data == {"person": {"name": "Ada", "place": None}}
    assert [e.path for e in result.errors or []] == [["person", "place", "city"]]
    result = await fast.execute('{ person(key: "home_refused") { name home { city } } }')
    assert result.data == {"person": None}  # non-null home: the person is nulled
    assert [e.path for e in result.errors or []] == [["person", "home", "city"]]


def test_only_fields_strawberry_reads_as_attributes_take_the_short_path() -> None:
    fast, _ = _schemas()
    person = fast._schema.type_map["Person"].fields  # type: ignore[attr-defined]
    short = {name for name, field in person.items() if plain_field(field) is not None}
    # Resolvers and arguments keep graphql-core's path; Strawberry's own type checks do not.
    assert short == {
        *("id", "name", "age", "even", "colour", "born", "nickname", "extra", "place", "home"),
        *("tags", "bestTag", "scores", "stops", "visits"),
    }
    # With @stream in the schema, graphql-core delivers lists incrementally: not short.
    lists = {"tags", "scores", "stops", "visits"}
    assert not {name for name in lists if plain_field(person[name], streams=True) is not None}
