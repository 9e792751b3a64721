"""Bundle costs (组合商品成本): the SKU graph loaded from the tables, and the checks that keep
every bundle's derived cost computable (one currency, no cycle, bounded) after any change."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from daiyun.core.errors import Problem
from daiyun.platform.storefront import repository, rules
from daiyun.platform.storefront.models import Sku
from daiyun.platform.storefront.schemas import PartRead, SkuUpdate


def _refusal(exc: rules.BundleError, status: int = 422) -> Problem:
    return Problem(status, exc.kind, str(exc), skus=list(exc.codes))


@dataclass
class Graph:
    """SKUs as :class:`rules.Node`, with every part reachable from the ones asked for."""

    nodes: dict[uuid.UUID, rules.Node]
    _costs: dict[uuid.UUID, int] = field(default_factory=dict)

    def cost(self, sku_id: uuid.UUID) -> int:
        """A SKU's cost: its own, or derived from its parts for a bundle.

        The checks on every change keep stored bundles computable; should two concurrent
        changes still have joined into a cycle, the read says so (409) rather than failing.
        """
        if sku_id not in self._costs:
            try:
                self._costs[sku_id] = rules.bundle_cost(sku_id, self.nodes)
            except rules.BundleError as exc:
                raise _refusal(exc, 409) from exc
        return self._costs[sku_id]


def _node(sku: Sku, parts: list[tuple[uuid.UUID, int]]) -> rules.Node:
    return rules.Node(sku.code, sku.currency, sku.cost_minor, tuple(parts))


def load(
    session: Session,
    roots: set[uuid.UUID],
    changed: dict[uuid.UUID, rules.Node] | None = None,
) -> Graph:
    """The SKUs ``roots`` and every part below them, a level per query; ``changed`` nodes
    stand in for the stored ones (a change checked before it is written)."""
    changed = changed or {}
    nodes: dict[uuid.UUID, rules.Node] = {}
    frontier = set(roots)
    while frontier:
        stored = repository.skus_by_id(session, frontier - set(changed))
        bundles = {i for i, s in stored.items() if s.is_bundle}
        parts = repository.parts_of(session, bundles)
        for sku_id in frontier:
            if sku_id in changed:
                nodes[sku_id] = changed[sku_id]
            elif sku_id in stored:
                nodes[sku_id] = _node(stored[sku_id], parts.get(sku_id, []))
        frontier = {p for i in frontier if i in nodes for p, _ in nodes[i].parts} - set(nodes)
    return Graph(nodes)


def part_read(graph: Graph, part_id: uuid.UUID, quantity: int) -> PartRead:
    return PartRead(
        sku_id=part_id,
        code=graph.nodes[part_id].code,
        quantity=quantity,
        unit_cost_minor=graph.cost(part_id),
    )


def _containing(session: Session, sku_id: uuid.UUID) -> set[uuid.UUID]:
    """Every bundle that holds ``sku_id``, directly or through other bundles."""
    found: set[uuid.UUID] = set()
    frontier = {sku_id}
    while frontier:
        frontier = repository.bundles_containing(session, frontier) - found - {sku_id}
        found |= frontier
    return found


def _check(graph: Graph, bundles: set[uuid.UUID]) -> None:
    for bundle in sorted(bundles):
        if bundle in graph.nodes and graph.nodes[bundle].parts:
            try:
                rules.bundle_cost(bundle, graph.nodes)
            except rules.BundleError as exc:
                raise _refusal(exc) from exc


def check_new_bundle(
    session: Session, code: str, currency: str, parts: list[tuple[uuid.UUID, int]]
) -> int:
    """The cost a new bundle of ``parts`` would have; 422 naming what makes it impossible."""
    new = uuid.uuid4()  # a stand-in id: nothing can contain a bundle not yet made
    graph = load(session, {new}, {new: rules.Node(code, currency, None, tuple(parts))})
    _check(graph, {new})
    return rules.bundle_cost(new, graph.nodes)


def check_change(
    session: Session, sku: Sku, body: SkuUpdate, parts: list[tuple[uuid.UUID, int]] | None
) -> None:
    """Refuse (422) a change to ``sku`` after which it, or a bundle containing it, would have
    parts in another currency, contain itself, nest too deep or cost too much."""
    fields = body.model_fields_set
    if not fields & {"cost_minor", "currency", "parts", "code"}:
        return
    if parts is None:
        parts = repository.parts_of(session, [sku.id])[sku.id] if sku.is_bundle else []
    node = rules.Node(
        body.code if body.code is not None else sku.code,
        body.currency if body.currency is not None else sku.currency,
        body.cost_minor if "cost_minor" in fields else sku.cost_minor,
        tuple(parts),
    )
    affected = _containing(session, sku.id) | {sku.id}
    _check(load(session, affected, {sku.id: node}), affected)
