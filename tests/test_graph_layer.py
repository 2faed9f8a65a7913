"""The graph layer (workbench/graph/): the one place that walks nested graphs and answers
"which names does this body read from outside". Nothing else looks at graph attributes."""

from __future__ import annotations

import re
from pathlib import Path

from onnx import TensorProto, helper

from workbench.graph import (
    BODY,
    all_nodes,
    bodies,
    disagreements,
    graph_values,
    graphs_text,
    has_bodies,
    nested_graphs,
    outer_names,
    outer_reads,
    walk_graphs,
)
from workbench.graph.values import Use

ROOT = Path(__file__).resolve().parents[1]
# what walking a graph attribute looks like: its kind, its graph fields
WALKS = re.compile(r"AttributeProto\.GRAPHS?\b|HasField\(\"g\"\)|\.graphs\b"
                   r"|\b(attr|attribute|a)\.g\b")
# what building a producer or consumer map by hand looks like: {out: node for node in
# graph.node for out in node.output}, or a loop over a node's inputs filling sets or lists
# per name (within a few lines: the FP16 conversion's "what its readers want" was one)
MAPS = re.compile(r"\{\s*\w+\s*:\s*[\w.]+\s+for\s+[\w,\s]+?\s+in\s+[^{}]+?"
                  r"\s+for\s+\w+\s+in\s+\w+\.output\b"
                  r"|for\s+\w+(,\s*\w+)?\s+in\s+(enumerate\()?\w+\.input\)?:\s*\n"
                  r"(?:[^\n]*\n){0,2}?\s*\w+\.setdefault\(")


def _if_model():
    """x → If(cond): then reads x and w (outer) and makes t locally; else is a Loop-free
    Neg of x; the then-branch nests another If reading y (outer of both)."""
    inner = helper.make_graph(
        [helper.make_node("Add", ["t", "y"], ["u"], name="inner_add")], "inner", [],
        [helper.make_tensor_value_info("u", TensorProto.FLOAT, [2])])
    inner_else = helper.make_graph(
        [helper.make_node("Identity", ["t"], ["v"], name="inner_id")], "inner_else", [],
        [helper.make_tensor_value_info("v", TensorProto.FLOAT, [2])])
    then = helper.make_graph(
        [helper.make_node("Mul", ["x", "w"], ["t"], name="then_mul"),
         helper.make_node("If", ["flag"], ["r"], name="nested_if", then_branch=inner,
                          else_branch=inner_else)],
        "then", [], [helper.make_tensor_value_info("r", TensorProto.FLOAT, [2])])
    other = helper.make_graph(
        [helper.make_node("Neg", ["x"], ["e"], name="else_neg")], "else", [],
        [helper.make_tensor_value_info("e", TensorProto.FLOAT, [2])])
    node = helper.make_node("If", ["flag"], ["out"], name="top_if", then_branch=then,
                            else_branch=other)
    return helper.make_graph(
        [node], "main",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2]) for n in ("x", "w", "y")]
        + [helper.make_tensor_value_info("flag", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [2])]), node


def test_walks_and_outer_names_of_nested_ifs() -> None:
    graph, node = _if_model()
    # onnx.helper keeps attributes sorted by name: else_branch comes first
    assert [path for path, _ in walk_graphs(graph)] == [
        "", "0.else_branch", "0.then_branch", "0.then_branch/1.else_branch",
        "0.then_branch/1.then_branch"]
    assert len(list(nested_graphs(graph))) == 4
    assert [n.name for n in all_nodes(graph)] == [
        "top_if", "else_neg", "then_mul", "nested_if", "inner_id", "inner_add"]
    assert [b.label for b in bodies(node)] == ["else_branch", "then_branch"]
    then = bodies(node)[1].graph
    assert has_bodies(node) and not has_bodies(then.node[0])
    # t is made inside the then-branch, so it is not an outer name of it; y and flag are
    assert outer_names(then) == ["x", "w", "flag", "y"]
    assert outer_reads(node) == ["x", "w", "flag", "y"]
    assert outer_names(graph) == []  # the main graph reads only its own inputs
    assert graphs_text(node.attribute[1]) == "<graph 2 nodes>"  # the then-branch


def test_no_module_outside_the_graph_layer_walks_graph_attributes() -> None:
    offenders = []
    for path in sorted((ROOT / "workbench").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("workbench/graph/"):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if WALKS.search(line):
                offenders.append(f"{rel}:{number}: {line.strip()}")
    assert not offenders, "walk nested graphs through workbench.graph:\n" + "\n".join(offenders)


def test_one_function_answers_outer_names() -> None:
    """The four versions of "names a body reads from outside" (two exact, two over-counting)
    are gone: outer_names/outer_reads of the graph layer are the only definitions."""
    definitions = []
    pattern = re.compile(r"def (_?outer_\w*|_subgraph_reads)\(")
    for path in sorted((ROOT / "workbench").rglob("*.py")):
        for match in pattern.finditer(path.read_text()):
            definitions.append(f"{path.relative_to(ROOT).as_posix()}:{match.group(1)}")
    assert definitions == ["workbench/graph/walk.py:outer_names",
                           "workbench/graph/walk.py:outer_reads"]


def _names(uses: list[Use]) -> list[tuple[str, int]]:
    return [(use.node.name, use.slot) for use in uses]


def test_values_have_one_type_a_producer_and_use_lists_with_body_reads() -> None:
    graph, node = _if_model()
    values = graph_values(graph)
    # the If reads x, w and y only from inside its branches: uses in slot BODY, not unused
    assert _names(values.uses("x")) == [("top_if", BODY)]
    assert _names(values.uses("flag")) == [("top_if", 0), ("top_if", BODY)]
    assert values["y"].readers == [node]
    assert values.producer("out").name == "top_if" and values["out"].producer_index == 0
    assert values.returned("out") and not values.returned("x")
    assert values["x"].elem_type == TensorProto.FLOAT and values["x"].shape == (2,)
    assert "t" not in values  # made inside a branch: another scope
    # every scope at once: the readers are the nodes inside the branches, at their slots
    nested = graph_values(graph, nested=True)
    assert _names(nested.uses("x")) == [("else_neg", 0), ("then_mul", 0)]
    assert _names(nested.uses("t")) == [("inner_id", 0), ("inner_add", 0)]
    assert nested.producer("t").name == "then_mul"


def test_constants_types_in_one_place_and_liveness() -> None:
    weight = helper.make_tensor("w", TensorProto.FLOAT, [2], [1.0, 2.0])
    nodes = [
        helper.make_node("Constant", [], ["c"], name="const",
                         value=helper.make_tensor("v", TensorProto.FLOAT, [], [3.0])),
        helper.make_node("Mul", ["x", "w"], ["m"], name="mul"),
        helper.make_node("Add", ["m", "c"], ["y"], name="add"),
        helper.make_node("Neg", ["x"], ["dead"], name="unused"),
    ]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n"])], [weight],
        value_info=[helper.make_tensor_value_info("w", TensorProto.FLOAT16, [2]),  # stale
                    helper.make_tensor_value_info("m", TensorProto.FLOAT, ["n"])])
    values = graph_values(graph)
    assert values.constant("w") is values["w"].initializer
    assert values.constant("c").float_data == [3.0] and values.constant("m") is None
    # the initializer's own type wins over a value_info that says otherwise, which is listed
    assert values["w"].elem_type == TensorProto.FLOAT and values["w"].shape == (2,)
    assert values.disagreements() == ["w"]
    assert values["x"].shape == ("n",) and values["m"].shape == ("n",)
    assert values.live() == ({0, 1, 2}, {"y", "m", "c", "x", "w"})  # not Neg's "dead"


def test_no_module_outside_the_graph_layer_builds_producer_or_consumer_maps() -> None:
    offenders = []
    for path in sorted((ROOT / "workbench").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("workbench/graph/"):
            continue
        text = path.read_text()
        for match in MAPS.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            offenders.append(f"{rel}:{line}: {match.group(0).strip()[:70]}")
    assert not offenders, ("ask workbench.graph.graph_values for producers and uses:\n"
                           + "\n".join(offenders))


def test_set_type_is_the_one_record_and_write_types_writes_it_back() -> None:
    """A transform changes types in the view (set_type) and writes them back once: value_info
    and outputs say what the record says, an initializer's own type is not repeated, and a
    value the transform added (a Cast's output) is declared shaped like its source."""
    weight = helper.make_tensor("w", TensorProto.FLOAT16, [2], [1.0, 2.0])  # converted
    nodes = [helper.make_node("Mul", ["x", "w"], ["m"], name="mul"),
             helper.make_node("Neg", ["m"], ["y"], name="neg"),
             helper.make_node("Relu", ["y"], ["dead"], name="unread")]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 2])], [weight],
        value_info=[helper.make_tensor_value_info("w", TensorProto.FLOAT, [2]),  # exporter's
                    helper.make_tensor_value_info("m", TensorProto.FLOAT, ["n", 2]),
                    helper.make_tensor_value_info("gone", TensorProto.FLOAT, [1])])
    values = graph_values(graph)
    assert values.disagreements() == ["w"] and values.declared_types("w") == (10, 1)
    assert disagreements(graph) == {"w": (10, 1)}  # the same, from the declarations alone
    assert values.holds_bodies(0) is False
    values.set_type("m", TensorProto.FLOAT16)
    values.set_type("y", TensorProto.FLOAT16)
    values.set_type("dead", 0)  # unknown: its declaration (none) stays
    # the transform reads x through a new Cast: a value new to the view, shaped like x
    graph.node.insert(0, helper.make_node("Cast", ["x"], ["x_half"], name="x.cast",
                                          to=TensorProto.FLOAT16))
    graph.node[1].input[0] = "x_half"
    added = values.set_type("x_half", TensorProto.FLOAT16, like="x")
    assert values["m"].elem_type == TensorProto.FLOAT16 and values["m"].shape == ("n", 2)
    assert added.type.tensor_type.elem_type == TensorProto.FLOAT16 and added.like is values["x"]
    values.write_types()
    declared = {vi.name: vi.type.tensor_type.elem_type for vi in graph.value_info}
    # the weight's entry is gone (the initializer declares it), and so is the entry of a
    # name no node makes; m keeps its entry, retyped; the Cast's output has one like x's
    assert declared == {"m": TensorProto.FLOAT16, "x_half": TensorProto.FLOAT16}
    assert graph.value_info[1].type.tensor_type.shape == graph.input[0].type.tensor_type.shape
    assert graph.output[0].type.tensor_type.elem_type == TensorProto.FLOAT16
    assert graph_values(graph).disagreements() == [] and disagreements(graph) == {}
