"""`python -m app.schema.export`: write the SDL to schema.graphql (checked by the tests)."""

from __future__ import annotations

import sys
from pathlib import Path

from strawberry.printer import print_schema

from app.schema import schema


def main() -> None:
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "schema.graphql")
    target.write_text(print_schema(schema) + "\n")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
