"""The Relay Node interface: every object with an id, fetchable again with node(id:)."""

from __future__ import annotations

import strawberry


@strawberry.interface(
    description=(
        "An object with an id. Ids are UUIDs, unique across every type, so node(id:) finds "
        "any of them; __typename tells which type it is."
    )
)
class Node:
    @strawberry.field
    def id(self) -> strawberry.ID:
        raise NotImplementedError  # each type gives its own
