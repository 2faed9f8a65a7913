"""Build failures explained by their cause: shapes a profile gives that the model cannot
take, and failures inside control flow (pure Python: facts come in as plain data).

TensorRT reports both as "Internal Error", which sent users to NVIDIA with a model that was
fine and a profile that was not. The message itself names the node and the bound
("kOPT values for profile 0 violate shape constraints: p2o.Add.250: … Broadcast has
incompatible dimensions: 4 != 2"); together with the profile's shapes and where the node
sits (inside an ``If`` branch?), the cause and the fix can be said in words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from workbench.build.settings import ShapeProfile

__all__ = ["BuildFacts", "explain_build_with_facts"]

_SHAPE = re.compile(
    r"k(?P<bound>MIN|OPT|MAX) values for profile (?P<profile>\d+) violate shape "
    r"constraints:\s*(?P<node>[^:]+?):\s*(?P<what>.+?)(?:\s+In operator\(\)|\s+In \w+ at|\)?$)",
    re.IGNORECASE | re.DOTALL)
_CONTROL = re.compile(r"graphScope|ScopeType|kUNDEFINED|IIfConditional|ILoop|conditional",
                      re.IGNORECASE)
_KINDS = (
    (r"broadcast", "two tensors combined element-wise (Add, Mul, Concat…) have different "
     "sizes at these shapes; typical of detectors and U-Nets, whose spatial sizes must be "
     "multiples of 32 because each stride-2 stage halves them"),
    (r"reshape|volume", "a Reshape's target does not hold the same number of elements as its "
     "input at these shapes"),
    (r"convolution|pooling|negative", "the input is shorter than the window of a "
     "convolution or pooling at these shapes"),
    (r"slice|gather|index", "an index or slice goes past the end of a tensor at these "
     "shapes"),
)


@dataclass(frozen=True)
class BuildFacts:
    """What the explanation may say about the model and the settings (plain data).

    Attributes:
        profiles: The profiles the build used.
        owners: Inner node name → (op, owner node, branch) for nodes in If/Loop/Scan bodies.
        deciders: (If node, graph inputs deciding it, values that pick a branch).
        control_nodes: (name, op) of the top-level If/Loop/Scan nodes.
        suggestion: Profile sizes found to run (ONNX Runtime), when known.
        model: The model's path as the user wrote it, for the calls in the fixes.
    """

    profiles: tuple[tuple[ShapeProfile, ...], ...] = ()
    owners: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    deciders: tuple[tuple[str, tuple[str, ...], tuple[tuple[str, float], ...]], ...] = ()
    control_nodes: tuple[tuple[str, str], ...] = ()
    suggestion: tuple[ShapeProfile, ...] = ()
    model: str = "model.onnx"
    image_inputs: tuple[str, ...] = ()  # inputs seeded as images (rank 4, 1/3/4 channels)


def explain_build_with_facts(lines: Sequence[str], facts: BuildFacts
                             ) -> tuple[str, tuple[str, ...]] | None:
    """Cause and fixes for a shape-constraint or control-flow build failure, else None."""
    text = "\n".join(lines)
    match = _SHAPE.search(text)
    if match is not None:
        return _shape_failure(match, facts)
    if _CONTROL.search(text) or _named_inner_node(text, facts):
        return _control_failure(_named_inner_node(text, facts), facts)
    return None


def _named_inner_node(text: str, facts: BuildFacts) -> str:
    """The first node of an If/Loop body that the error names (as a whole word)."""
    for name in facts.owners:
        if name and re.search(rf"(?<![\w.]){re.escape(name)}(?![\w.])", text):
            return name
    return ""


def _shape_failure(match: re.Match[str], facts: BuildFacts) -> tuple[str, tuple[str, ...]]:
    bound, index = match["bound"].lower(), int(match["profile"])
    node, what = match["node"].strip(), " ".join(match["what"].split())
    kind = next((k for pattern, k in _KINDS if re.search(pattern, what, re.I)),
                "a node's shape check fails at these shapes")
    shapes = ""
    if index < len(facts.profiles):
        shapes = " (" + ", ".join(f"{s.input}={'x'.join(map(str, getattr(s, bound)))}"
                                  for s in facts.profiles[index]) + ")"
    where = _where(node, facts)
    cause = (f"Profile {index}'s {bound} shapes{shapes} are shapes the model cannot take: "
             f"node {node!r}{where} fails TensorRT's shape check ({what}): {kind}. The model "
             "is fine; the profile is not.")
    fixes = []
    if facts.suggestion:
        fixes.append("use sizes that run (found by running the model with ONNX Runtime): "
                     + " ".join(s.text() for s in facts.suggestion)
                     + " — the Build tab offers them ('Use suggested profile')")
    fixes.append(f"check a profile before building: workbench.check_profiles({facts.model!r}, "
                 "settings) runs the model with ONNX Runtime at min/opt/max and names sizes "
                 "that run (the Build tab does this before every build)")
    if facts.image_inputs:
        fixes.append(f"give {', '.join(map(repr, facts.image_inputs))} spatial sizes that are "
                     "multiples of 32 (leave the profile empty: the seeded one does, 32 → 224 "
                     "→ 512)")
    if where:
        fixes.extend(_control_fixes(node, facts)[:1])
    return cause, tuple(fixes)


def _where(node: str, facts: BuildFacts) -> str:
    owner = facts.owners.get(node)
    return f" (inside the {owner[2]} of {owner[0]} {owner[1]!r})" if owner else ""


def _control_failure(node: str, facts: BuildFacts) -> tuple[str, tuple[str, ...]]:
    flows = ", ".join(f"{op} {name!r}" for name, op in facts.control_nodes) or "If/Loop nodes"
    where = f" at node {node!r}{_where(node, facts)}" if node else ""
    cause = (f"The build fails inside control flow{where}: the model has {flows}, and "
             "TensorRT builds every branch and body of them for every profile shape, "
             "including branches your inputs never take.")
    fixes = _control_fixes(node, facts)
    return cause, fixes or (
        "export the model without control flow (trace it with the branch fixed, or move "
        "the decision out of the graph and export one model per case)",)


def _control_fixes(node: str, facts: BuildFacts) -> tuple[str, ...]:
    """Fixes for a build failing inside control flow. Freezing an input's VALUE (the Model
    tab's "Freeze and open the copy", offered by ``freeze_choices``) applies only to an If
    whose condition compares a graph input with a constant; an If decided by the shape of
    an input (``Shape`` → ``Equal``, what a frozen copy still has) is folded by freezing
    the input's shape instead."""
    fixes = []
    for if_node, inputs, values in facts.deciders:
        if not inputs:
            continue
        if values:
            name, value = values[0]
            fixes.append(
                f"fold the If {if_node!r} away by freezing the input that decides it: "
                f"workbench.fold_constants({facts.model!r}, input_values={{{name!r}: "
                f"{_number(value)}}}, out_path='folded.onnx') keeps only the branch that "
                "value takes (one engine per value); in the panel: Model tab, Freeze and "
                "open the copy")
        else:
            shapes = ", ".join(f"{name!r}: [...]" for name in inputs[:2])
            fixes.append(
                f"the If {if_node!r} is decided by the shape of {', '.join(inputs[:2])}, not "
                "by a value: fold it away by freezing the input shapes, "
                f"workbench.fold_constants({facts.model!r}, input_shapes={{{shapes}}}, "
                "out_path='folded.onnx') (one engine per shape)")
    fixes.append("or export the model without control flow (trace it with the branch fixed, "
                 "or move the decision out of the graph and export one model per case)")
    fixes.append(f"workbench.reduce_build_failure({facts.model!r}, 'reduced.onnx') saves the "
                 "smallest subgraph that still fails to build, to look at or report")
    return tuple(fixes)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)
