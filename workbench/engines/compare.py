"""Two engines side by side, from their cards alone (no GPU), as TREx's compare-engines:
plan size, layer counts, fusions, precision, layer types, settings and profiles, and the
ONNX nodes whose engine layer or precision differs.

Pure Python over ``EngineCard``. The layers come from the
card (the DETAILED build log, or EngineInspector on a GPU).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from workbench.engines.card import EngineCard, EngineLayerInfo
from workbench.engines.layer_report import precision_map

__all__ = ["EngineComparison", "NodeDifference", "compare_cards"]

Row = tuple[str, str, str]  # (what, engine A, engine B)


@dataclass(frozen=True)
class NodeDifference:
    """ONNX nodes that one layer holds in A and another in B (or a different precision)."""

    nodes: tuple[str, ...]
    a_layer: str
    a_precision: str
    b_layer: str
    b_precision: str


@dataclass(frozen=True)
class EngineComparison:
    """The result of ``compare_cards``. Rows are (what, A, B); ``differs`` marks rows
    whose values are not equal."""

    a_label: str
    b_label: str
    summary: tuple[Row, ...]
    settings: tuple[Row, ...]
    precisions: tuple[Row, ...]
    layer_types: tuple[Row, ...]
    nodes: tuple[NodeDifference, ...]
    same_layers: int  # ONNX node groups that became the same layer in the same precision

    @staticmethod
    def differs(row: Row) -> bool:
        return row[1] != row[2]

    def text(self, max_nodes: int = 40) -> str:
        """A plain-text report (the CLI prints it)."""
        out = [f"A: {self.a_label}", f"B: {self.b_label}"]
        for title, rows in (("engine", self.summary), ("settings that differ", self.settings),
                            ("layers by precision", self.precisions),
                            ("layers by type", self.layer_types)):
            if not rows:
                continue
            key, a = max(len(r[0]) for r in rows), max(len(r[1]) for r in rows)
            out.append(f"\n{title}:  (* differs)")
            out += [f"  {'*' if self.differs(r) else ' '} {r[0]:<{key}}  {r[1]:<{a}}  {r[2]}"
                    for r in rows]
        out.append(f"\nONNX nodes in the same layer and precision in both: {self.same_layers} "
                   f"group(s); differing: {len(self.nodes)}")
        for diff in self.nodes[:max_nodes]:
            out.append(f"  {', '.join(diff.nodes)}: A {diff.a_precision or '—'} "
                       f"({diff.a_layer or 'no layer'}) | B {diff.b_precision or '—'} "
                       f"({diff.b_layer or 'no layer'})")
        if len(self.nodes) > max_nodes:
            out.append(f"  … and {len(self.nodes) - max_nodes} more")
        return "\n".join(out)


def compare_cards(a: EngineCard, b: EngineCard, a_label: str = "A",
                  b_label: str = "B") -> EngineComparison:
    """Compare two engines' cards: what differs, from totals down to ONNX nodes."""
    same, nodes = _node_differences(a.layers, b.layers)
    return EngineComparison(
        a_label, b_label, _summary(a, b), _settings(a, b),
        _counted(precision_map(a.layers), precision_map(b.layers)),
        _counted(Counter(x.layer_type for x in a.layers),
                 Counter(x.layer_type for x in b.layers)),
        nodes, same,
    )


def _summary(a: EngineCard, b: EngineCard) -> tuple[Row, ...]:
    def facts(card: EngineCard) -> dict[str, str]:
        fused = sum(1 for layer in card.layers if len(layer.onnx_nodes) > 1)
        return {
            "TensorRT": card.flavour_label, "targets": card.target_text(),
            "precision": card.settings.precision + (" (strongly typed)"
                                                    if card.strongly_typed else ""),
            "plan size": f"{card.plan_size / 2**20:.2f} MiB",
            "engine layers": str(len(card.layers)),
            "ONNX nodes in layers": str(len({n for x in card.layers for n in x.onnx_nodes})),
            "fusions (layers of 2+ nodes)": str(fused),
            "built from": card.onnx_sha256[:12] + "…",
        }
    fa, fb = facts(a), facts(b)
    return tuple((key, fa[key], fb[key]) for key in fa)


def _settings(a: EngineCard, b: EngineCard) -> tuple[Row, ...]:
    """The settings (and profiles) whose values differ."""
    da, db = _flat(a.settings.to_dict()), _flat(b.settings.to_dict())
    return tuple((key, da.get(key, "—"), db.get(key, "—"))
                 for key in dict.fromkeys([*da, *db]) if da.get(key) != db.get(key))


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flat(value, name + "."))
        elif isinstance(value, (list, tuple)) and key == "profiles":
            for index, profile in enumerate(value):
                for shape in profile:
                    flat[f"profile {index} {shape.get('input', '?')}"] = (
                        f"{shape.get('min')} / {shape.get('opt')} / {shape.get('max')}")
        elif isinstance(value, (list, tuple)):
            flat[name] = ", ".join(str(v) for v in value) or "—"
        else:
            flat[name] = str(value)
    return flat


def _counted(a: Any, b: Any) -> tuple[Row, ...]:
    keys = list(dict.fromkeys([*a, *b]))
    return tuple((key or "—", str(a.get(key, 0)), str(b.get(key, 0))) for key in keys)


def _node_differences(a: tuple[EngineLayerInfo, ...], b: tuple[EngineLayerInfo, ...]
                      ) -> tuple[int, tuple[NodeDifference, ...]]:
    """Group ONNX nodes by (layer in A, layer in B); a group differs when its nodes were
    fused differently (the layers hold other nodes too) or run in another precision."""
    where_a, where_b = _owners(a), _owners(b)
    groups: dict[tuple[int, int], list[str]] = {}
    for node in dict.fromkeys([*where_a, *where_b]):
        groups.setdefault((where_a.get(node, -1), where_b.get(node, -1)), []).append(node)
    same, different = 0, []
    for (ia, ib), nodes in groups.items():
        la = a[ia] if ia >= 0 else None
        lb = b[ib] if ib >= 0 else None
        same_nodes = la is not None and lb is not None and (
            set(la.onnx_nodes) == set(lb.onnx_nodes))
        if same_nodes and la is not None and lb is not None and la.precision == lb.precision:
            same += 1
            continue
        different.append(NodeDifference(
            tuple(nodes), la.name if la else "", la.precision if la else "",
            lb.name if lb else "", lb.precision if lb else ""))
    return same, tuple(different)


def _owners(layers: tuple[EngineLayerInfo, ...]) -> dict[str, int]:
    owners: dict[str, int] = {}
    for index, layer in enumerate(layers):
        for node in layer.onnx_nodes:
            owners.setdefault(node, index)
    return owners
