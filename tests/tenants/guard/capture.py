"""Captured SQL: the statements a session sends, and the tenant predicates they carry."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from daiyun.tenants.models import Tenant

# `<qualifier>.tenant_id = <bound parameter>` on SQLite (qmark) and psycopg (pyformat).
PREDICATE = re.compile(r"\b(\w+)\.tenant_id = (?:\?|%\(\w+\)s)")


@dataclass
class Statement:
    sql: str
    parameters: Any

    def predicates(self) -> Counter[str]:
        return Counter(PREDICATE.findall(self.sql))

    def bound_uuids(self) -> set[uuid.UUID]:
        values: list[Any] = []
        stack = [self.parameters]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                stack.extend(item.values())
            elif isinstance(item, list | tuple):
                stack.extend(item)
            else:
                values.append(item)
        found = set()
        for value in values:
            if isinstance(value, uuid.UUID):
                found.add(value)
            elif isinstance(value, str):
                with contextlib.suppress(ValueError):
                    found.add(uuid.UUID(value))
        return found


class Capture:
    def __init__(self) -> None:
        self.seen: list[Statement] = []

    def clear(self) -> None:
        self.seen.clear()

    def on(self, table: str) -> list[Statement]:
        """The data statements (not savepoints or settings) that touch ``table``."""
        verbs = ("SELECT", "UPDATE", "DELETE", "INSERT")
        return [
            s
            for s in self.seen
            if s.sql.lstrip().upper().startswith(verbs) and re.search(rf"\b{table}\b", s.sql)
        ]

    def one(self, table: str) -> Statement:
        found = self.on(table)
        assert len(found) == 1, [s.sql for s in self.seen]
        return found[0]


def assert_scoped(
    statement: Statement, qualifiers: dict[str, int], tenant: Tenant, other: Tenant | None
) -> None:
    """Each qualifier is compared with a bound parameter, ``tenant`` is bound, ``other`` is not."""
    found = statement.predicates()
    for qualifier, times in qualifiers.items():
        assert found[qualifier] >= times, (qualifier, statement.sql)
    bound = statement.bound_uuids()
    assert tenant.id in bound, statement
    if other is not None:
        assert other.id not in bound, statement
