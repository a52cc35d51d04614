"""Graph pictures: the DOT text (nodes, edges, clusters, badges, escaping, truncation, NaN
flags), the backward picture, and real SVG and PNG files from the renderer pip installs."""

from __future__ import annotations

import importlib.util
import os
import re
import stat
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import graphviz
import numpy as np
import pytest

from autograd import Tensor, name_scope, viz
from autograd.checks import dense_jacobian
from autograd.viz import labels, renderer

REPO = Path(__file__).resolve().parent.parent
SVG = "{http://www.w3.org/2000/svg}"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

NODE = re.compile(r"^\s*(t\d+|elided) \[", re.M)
EDGE = re.compile(r"^\s*(t\d+|elided)(?::\w+)? -> (t\d+|elided)(?::\w+)?", re.M)
NUMBER = r"(-?[\d.]+(?:e[+-]\d+)?|nan|inf|-inf)"


# ---------------------------------------------------------------------------------------------
# Reading DOT text
# ---------------------------------------------------------------------------------------------


def nodes(source: str) -> list[str]:
    return [n for n in NODE.findall(source) if n != "elided"]


def edges(source: str) -> list[tuple[str, str]]:
    return EDGE.findall(source)


def line_of(source: str, node_id: str) -> str:
    return re.search(rf"^\s*{node_id} \[(.*)$", source, re.M).group(1)


def node_containing(source: str, text: str) -> str:
    """The one node whose label contains ``text``."""
    found = [n for n in nodes(source) if text in line_of(source, n)]
    assert len(found) == 1, f"{len(found)} nodes contain {text!r}"
    return found[0]


def edge_line(source: str, tail: str, head: str) -> str:
    return re.search(rf"^\s*{tail}(?::\w+)? -> {head}(?::\w+)? ?(.*)$", source, re.M).group(1)


def font_texts(label: str) -> list[str]:
    """The pieces of text of an HTML-like label, in order."""
    return re.findall(r"<font [^>]*>([^<]*)</font>", label)


def cluster_paths(source: str) -> dict[str, tuple[str, ...]]:
    """For each node, the clusters around it, outermost first."""
    stack: list[str] = []
    where = {}
    for line in source.splitlines():
        opened = re.match(r'^\s*subgraph "?([^"{]+?)"? \{', line)
        if opened:
            stack.append(opened.group(1))
        elif line.strip() == "}":
            if stack:
                stack.pop()
        else:
            node = re.match(r"^\s*(t\d+) \[", line)
            if node:
                where[node.group(1)] = tuple(stack)
    return where


def svg_texts(path: str | Path) -> str:
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    return " ".join("".join(t.itertext()) for t in root.iter(f"{SVG}text"))


# ---------------------------------------------------------------------------------------------
# Graphs
# ---------------------------------------------------------------------------------------------


def two_layer(dtype=np.float64, m: int = 5) -> SimpleNamespace:
    """Z1 = W1 X + b1, A1 = relu(Z1), Z2 = W2 A1 + b2, A2 = sigmoid(Z2), J = BCE(A2, Y)."""
    rng = np.random.default_rng(0)
    X = Tensor(rng.normal(size=(3, m)).astype(dtype), name="X")
    Y = Tensor((rng.random((1, m)) > 0.5).astype(dtype), name="Y")

    def parameter(shape, name):
        return Tensor((rng.normal(size=shape) * 0.5).astype(dtype), requires_grad=True, name=name)

    W1, b1 = parameter((4, 3), "layers.0.W"), parameter((4, 1), "layers.0.b")
    W2, b2 = parameter((1, 4), "layers.2.W"), parameter((1, 1), "layers.2.b")
    with name_scope("layers.0"):
        Z1 = W1 @ X + b1
    with name_scope("layers.1"):
        A1 = Z1.relu()
    with name_scope("layers.2"):
        Z2 = W2 @ A1 + b2
    with name_scope("loss"):
        A2 = 1.0 / (1.0 + (-Z2).exp())
        J = -(Y * A2.log() + (1.0 - Y) * (1.0 - A2).log()).sum() * (1.0 / m)
    return SimpleNamespace(**locals())


def affine_relu_sum():
    """y = sum(relu(W X + b)): 8 tensors, 7 edges."""
    W = Tensor(np.arange(6.0).reshape(2, 3) - 2, requires_grad=True, name="W")
    X = Tensor(np.linspace(-1, 1, 12).reshape(3, 4), name="X")
    b = Tensor([[0.5], [-0.5]], requires_grad=True, name="b")
    return W, X, b, (W @ X + b).relu().sum()


def neg_chain(n: int) -> tuple[Tensor, Tensor]:
    x = Tensor(np.ones(2), requires_grad=True, name="x")
    y = x
    for _ in range(n):
        y = -y
    return x, y


# ---------------------------------------------------------------------------------------------
# draw: nodes and edges
# ---------------------------------------------------------------------------------------------


class TestDraw:
    def test_returns_a_digraph_with_dot_source(self):
        """draw gives a graphviz.Digraph whose source is DOT text, also through Tensor.draw."""
        *_, y = affine_relu_sum()
        g = y.draw()
        assert isinstance(g, graphviz.Digraph)
        assert g.source.startswith("digraph")
        assert g.source == viz.draw(y).source

    def test_one_node_per_tensor_and_one_edge_per_input(self):
        """W, X, b, matmul, broadcast_to, add, relu, sum: 8 nodes and 7 edges."""
        *_, y = affine_relu_sum()
        source = y.draw().source
        assert len(nodes(source)) == 8
        assert len(edges(source)) == 7

    def test_edges_run_from_inputs_to_their_op(self):
        """Every edge goes from an input's box to the box of the op that consumed it."""
        *_, y = affine_relu_sum()
        source = y.draw().source
        W = node_containing(source, ">W<")
        X = node_containing(source, ">X<")
        matmul = node_containing(source, ">matmul<")
        relu = node_containing(source, ">relu<")
        total = node_containing(source, ">sum<")
        pairs = set(edges(source))
        assert {(W, matmul), (X, matmul), (relu, total)} <= pairs
        assert all(tail != total for tail, _ in pairs)  # the output feeds nothing

    def test_leaves_show_name_shape_and_dtype(self):
        """Parameters show their module path, shape and dtype."""
        net = two_layer(np.float32)
        source = net.J.draw().source
        label = line_of(source, node_containing(source, "layers.0.W"))
        assert "(4, 3) float32" in label

    def test_op_nodes_show_the_primitive_and_output_shape(self):
        """Each op box names its primitive and its output's shape and dtype."""
        net = two_layer()
        source = net.J.draw().source
        for t in viz.walk(net.J):
            if t.op is not None:
                assert f">{t.op.name}<" in source
        label = line_of(source, node_containing(source, ">relu<"))
        assert "(4, 5) float64" in label

    def test_named_op_output_shows_its_name(self):
        """An op output given a name shows it next to its shape."""
        *_, y = affine_relu_sum()
        y.name = "total"
        assert "total  () float64" in y.draw().source

    def test_scalar_constants_show_their_value(self):
        """A Python number in an expression is drawn as its value."""
        x = Tensor([1.0, 2.0], requires_grad=True)
        source = (x * 0.25).draw().source
        assert ">0.25<" in source

    def test_show_constants_false_hides_constants(self):
        """show_constants=False drops the numbers written into expressions."""
        x = Tensor([1.0, 2.0], requires_grad=True)
        y = x * 0.25
        assert len(nodes(y.draw().source)) == 3
        assert len(nodes(y.draw(show_constants=False).source)) == 2

    def test_broadcast_nodes_are_drawn_light(self):
        """The explicit broadcast_to node is dashed and grey, unlike the other ops."""
        *_, y = affine_relu_sum()
        source = y.draw().source
        broadcast = line_of(source, node_containing(source, "broadcast_to"))
        matmul = line_of(source, node_containing(source, ">matmul<"))
        assert 'style="rounded,dashed"' in broadcast
        assert "dashed" not in matmul

    def test_the_output_is_outlined(self):
        """The output's box has a thicker border than the others."""
        *_, y = affine_relu_sum()
        source = y.draw().source
        assert 'border="2"' in line_of(source, node_containing(source, ">sum<"))
        assert 'border="2"' not in line_of(source, node_containing(source, ">relu<"))

    def test_before_and_after_backward_the_structure_is_the_same(self):
        """Backward marks the graph used but the picture keeps every node and edge."""
        *_, y = affine_relu_sum()
        before = y.draw().source
        y.backward()
        after = y.draw().source
        assert nodes(after) == nodes(before)
        assert edges(after) == edges(before)

    def test_matmul_operands_meet_the_box_in_order(self):
        """W enters W @ X on the left corner and X on the right (top-to-bottom layout)."""
        *_, y = affine_relu_sum()
        source = y.draw().source
        matmul = node_containing(source, ">matmul<")
        W, X = node_containing(source, ">W<"), node_containing(source, ">X<")
        assert re.search(rf"{W} -> {matmul}:nw", source)
        assert re.search(rf"{X} -> {matmul}:ne", source)

    def test_rejects_bad_options(self):
        """Non-tensors, max_nodes < 1 and unknown directions are errors."""
        *_, y = affine_relu_sum()
        with pytest.raises(TypeError, match="Tensor"):
            viz.draw([1.0])
        with pytest.raises(ValueError, match="max_nodes"):
            y.draw(max_nodes=0)
        with pytest.raises(ValueError, match="rankdir"):
            y.draw(rankdir="up")
        with pytest.raises(TypeError):
            y.draw(colour="red")


class TestWalk:
    def test_parents_come_before_children(self):
        """walk lists every tensor once, each after all of its inputs, the root last."""
        net = two_layer()
        order = viz.walk(net.J)
        position = {id(t): k for k, t in enumerate(order)}
        assert len(position) == len(order)
        assert order[-1] is net.J
        for t in order:
            for parent in t.parents:
                assert position[id(parent)] < position[id(t)]

    def test_includes_leaves_and_constants(self):
        """Inputs that need no gradient and constants are part of the walk."""
        net = two_layer()
        order = viz.walk(net.J)
        assert any(t is net.X for t in order)
        assert any(t is net.Y for t in order)
        assert any(t.op is None and t.name is None and t.size == 1 for t in order)


# ---------------------------------------------------------------------------------------------
# Clusters
# ---------------------------------------------------------------------------------------------


class TestClusters:
    def test_one_cluster_per_scope(self):
        """Nodes recorded under name_scope("layers.0") sit in cluster_layers.0, and so on."""
        net = two_layer()
        source = net.J.draw().source
        where = cluster_paths(source)
        relu = node_containing(source, ">relu<")
        assert where[relu] == ("cluster_layers.1",)
        for scope in ("layers.0", "layers.1", "layers.2", "loss"):
            assert re.search(rf'subgraph "?cluster_{re.escape(scope)}"? {{', source)

    def test_parameters_join_the_cluster_of_their_module_path(self):
        """layers.0.W and layers.0.b are drawn inside cluster_layers.0; X stays outside."""
        net = two_layer()
        source = net.J.draw().source
        where = cluster_paths(source)
        assert where[node_containing(source, "layers.0.W")] == ("cluster_layers.0",)
        assert where[node_containing(source, "layers.2.b")] == ("cluster_layers.2",)
        assert where[node_containing(source, ">X<")] == ()

    def test_nested_scopes_nest_clusters(self):
        """A scope inside another is a cluster inside the other's cluster."""
        W = Tensor(np.ones((2, 2)), requires_grad=True, name="model.layers.0.W")
        with name_scope("model"):
            with name_scope("layers.0"):
                z = W @ np.ones((2, 3))
            a = z.relu()
        source = a.draw().source
        where = cluster_paths(source)
        assert where[node_containing(source, ">relu<")] == ("cluster_model",)
        inner = ("cluster_model", "cluster_model.layers.0")
        assert where[node_containing(source, ">matmul<")] == inner
        assert where[node_containing(source, "model.layers.0.W")] == inner

    def test_unscoped_graph_has_no_cluster(self):
        """Without name_scope there is no subgraph at all."""
        *_, y = affine_relu_sum()
        assert "subgraph" not in y.draw().source


# ---------------------------------------------------------------------------------------------
# Jacobian badges
# ---------------------------------------------------------------------------------------------


def badge_of(source: str, op: str) -> str:
    label = line_of(source, node_containing(source, f">{op}<"))
    return re.search(r'point-size="8"[^>]*>([^<]*)</font>', label).group(1)


class TestBadges:
    def test_patterns_of_the_primitives(self):
        """Elementwise ops read diag, matmul G·Xᵀ / Wᵀ·G, a (n, 1) -> (n, m) broadcast Σ axis 1."""
        *_, y = affine_relu_sum()
        source = y.draw().source
        assert badge_of(source, "matmul").startswith("G·Xᵀ / Wᵀ·G")
        assert badge_of(source, "relu").startswith("0/1 diag")
        assert badge_of(source, "broadcast_to").startswith("Σ axis 1")
        assert badge_of(source, "sum").startswith("row of ones, all axes")

    def test_broadcast_over_new_leading_axes_sums_them(self):
        """broadcast_to (3,) -> (2, 4, 3) sums over axes 0 and 1 in its VJP."""
        x = Tensor(np.ones(3), requires_grad=True)
        y = x.broadcast_to((2, 4, 3))
        assert badge_of(y.draw().source, "broadcast_to").startswith("Σ axes 0, 1")

    def test_sum_names_its_axis(self):
        """sum over axis 0 shows the axis it reduces."""
        x = Tensor(np.ones((3, 2)), requires_grad=True)
        assert badge_of(x.sum(axis=0).draw().source, "sum").startswith("row of ones, axis 0")

    def test_dense_bytes_match_the_dense_jacobian(self):
        """The byte count equals the size of the dense Jacobians that checks.dense_jacobian builds."""
        W = Tensor(np.ones((4, 3), np.float32), requires_grad=True)
        X = Tensor(np.ones((3, 5), np.float32), requires_grad=True)
        Z = W @ X
        jacobians = dense_jacobian("matmul", W.data, X.data)
        expected = sum(J.size for J in jacobians) * Z.dtype.itemsize
        assert badge_of(Z.draw().source, "matmul").endswith(f"dense J {labels.format_bytes(expected)}")

    def test_only_inputs_that_need_a_gradient_count(self):
        """A constant operand has no Jacobian to store, so W @ X with X constant counts W only."""
        W = Tensor(np.ones((4, 3)), requires_grad=True)
        Z = W @ np.ones((3, 5))
        (jacobian_w, _) = dense_jacobian("matmul", W.data, np.ones((3, 5)))
        expected = labels.format_bytes(jacobian_w.nbytes)
        assert badge_of(Z.draw().source, "matmul").endswith(f"dense J {expected}")

    def test_the_large_matmul_of_math_md_needs_terabytes(self):
        """docs/maths.md: W (2048, 2048) times X (2048, 128) in float32 has a 4.4 TB Jacobian w.r.t. W."""
        W = Tensor(np.zeros((2048, 2048), np.float32), requires_grad=True)
        X = np.zeros((2048, 128), np.float32)
        badge = badge_of((W @ X).draw().source, "matmul")
        value, unit = re.search(r"dense J ([\d.]+) (\w+)", badge).groups()
        assert unit == "TiB"
        assert float(value) * 1024**4 == pytest.approx(4.4e12, rel=0.02)

    def test_badges_can_be_turned_off(self):
        """badges=False leaves no dense-Jacobian text."""
        *_, y = affine_relu_sum()
        assert "dense J" not in y.draw(badges=False).source

    def test_format_bytes_uses_binary_units(self):
        """Bytes read in B, KiB, MiB... with one decimal above 1 KiB."""
        assert labels.format_bytes(0) == "0 B"
        assert labels.format_bytes(1023) == "1023 B"
        assert labels.format_bytes(1536) == "1.5 KiB"
        assert labels.format_bytes(3 * 2**20) == "3.0 MiB"
        assert labels.format_bytes(2**40) == "1.0 TiB"


# ---------------------------------------------------------------------------------------------
# Values, gradients, tangents
# ---------------------------------------------------------------------------------------------


def numbers_after(text: str, key: str) -> list[float]:
    """The numbers in a ``key  ...`` summary row of a label."""
    row = re.search(rf"{key}  ([^<]*)<", text).group(1)
    return [float(v) for v in re.findall(NUMBER, row)]


class TestSummaries:
    def test_values_summarise_large_arrays(self):
        """A (4, 5) value shows its min, mean, max and norm as NumPy computes them."""
        net = two_layer()
        source = net.J.draw(show_values=True).source
        label = line_of(source, node_containing(source, ">relu<"))
        values = net.A1.data
        expected = [values.min(), values.mean(), values.max(), np.linalg.norm(values)]
        np.testing.assert_allclose(numbers_after(label, "value"), expected, rtol=5e-3, atol=1e-12)

    def test_values_show_tiny_arrays_in_full(self):
        """An array of at most 4 elements is shown element by element."""
        net = two_layer()
        source = net.J.draw(show_values=True).source
        label = line_of(source, node_containing(source, "layers.0.b"))
        np.testing.assert_allclose(numbers_after(label, "value"), net.b1.data.ravel(), rtol=1e-3)

    def test_no_values_by_default(self):
        """Values appear only on request."""
        net = two_layer()
        assert "value  " not in net.J.draw().source

    def test_grads_after_backward(self):
        """show_grads summarises each leaf's .grad after backward."""
        net = two_layer()
        net.J.backward()
        source = net.J.draw(show_grads=True).source
        label = line_of(source, node_containing(source, "layers.0.W"))
        g = net.W1.grad
        expected = [g.min(), g.mean(), g.max(), np.linalg.norm(g)]
        np.testing.assert_allclose(numbers_after(label, "grad"), expected, rtol=5e-3, atol=1e-12)

    def test_tangents_are_shown_when_present(self):
        """A forward-mode tangent is summarised: d exp(x) = ẋ * exp(x)."""
        x = Tensor([0.5, -1.0, 2.0], requires_grad=True, name="x")
        x._tangents = {0: np.array([1.0, 2.0, -3.0])}
        y = x.exp()
        source = y.draw().source
        label = line_of(source, node_containing(source, ">exp<"))
        np.testing.assert_allclose(numbers_after(label, "tangent"), x.tangent * np.exp(x.data), rtol=1e-3)
        assert "tangent" not in y.draw(show_tangents=False).source

    def test_summary_counts_non_finite_entries(self):
        """NaN and Inf are counted and left out of the statistics."""
        a = np.array([1.0, np.nan, np.inf, 3.0, np.nan, 2.0])
        text = labels.summary(a)
        assert "2 NaN" in text and "1 Inf" in text
        finite = a[np.isfinite(a)]
        stats = [float(v) for v in re.findall(NUMBER, text.split("(")[0])]
        np.testing.assert_allclose(stats, [1.0, 2.0, 3.0, np.linalg.norm(finite)], rtol=5e-3)

    def test_summary_of_huge_values_does_not_overflow(self):
        """The norm of values near the float32 maximum is finite and raises no warning."""
        a = np.full(6, 3e38, dtype=np.float32)
        with np.errstate(all="raise"):
            text = labels.summary(a)
        norm = float(re.search(rf"‖·‖ {NUMBER}", text).group(1))
        assert norm == pytest.approx(np.sqrt(6) * 3e38, rel=1e-2)


# ---------------------------------------------------------------------------------------------
# Escaping
# ---------------------------------------------------------------------------------------------

AWKWARD = 'W"<b>&\\n\\'


class TestEscaping:
    def test_names_are_escaped_in_the_dot_text(self):
        """Quotes, <, >, & and backslashes in a name come out as HTML entities or literally."""
        W = Tensor(np.ones((2, 2)), requires_grad=True, name=AWKWARD)
        source = (W * 2.0).draw().source
        assert "W&quot;&lt;b&gt;&amp;\\n\\" in source
        assert "<b>&" not in source

    def test_awkward_names_and_scopes_render_as_written(self, tmp_path):
        """The SVG shows the awkward name and scope exactly, so the DOT text parsed."""
        W = Tensor(np.ones((2, 2)), requires_grad=True, name=AWKWARD)
        with name_scope('scope "1" <a\\b>'):
            y = (W * 2.0).sum()
        source = y.draw().source
        assert re.search(r'subgraph "?cluster_scope__1___a_b_"? \{', source)
        texts = svg_texts(viz.render(y, tmp_path / "awkward", format="svg"))
        assert AWKWARD in texts
        assert 'scope "1" <a\\b>' in texts

    def test_title_is_escaped(self):
        """A caption with markup characters is shown as text."""
        *_, y = affine_relu_sum()
        assert "a &lt; b &amp;&amp; c" in y.draw(title="a < b && c").source


# ---------------------------------------------------------------------------------------------
# Large graphs
# ---------------------------------------------------------------------------------------------


class TestLargeGraphs:
    def test_max_nodes_truncates_and_says_so(self):
        """A 50-step chain drawn with max_nodes=10 keeps the 10 tensors nearest the output."""
        x, y = neg_chain(50)
        source = y.draw(max_nodes=10).source
        assert len(nodes(source)) == 10
        assert "showing 10 of 51 tensors (max_nodes=10)" in source
        assert "41 more tensors not drawn" in source
        assert "layers" not in source and ">x<" not in source  # the far end is gone
        assert sum(1 for tail, _ in edges(source) if tail == "elided") == 1

    def test_no_notice_when_everything_fits(self):
        """A graph within max_nodes has no notice and no stand-in node."""
        _, y = neg_chain(5)
        source = y.draw(max_nodes=6).source
        assert "elided" not in source and "showing" not in source

    def test_hundred_thousand_nodes_at_the_default_recursion_limit(self):
        """A 100,000-op chain produces complete DOT without recursion, and a short default picture."""
        assert sys.getrecursionlimit() <= 10_000
        _, y = neg_chain(100_000)
        full = y.draw(max_nodes=None).source
        assert len(nodes(full)) == 100_001
        assert len(edges(full)) == 100_000
        short = y.draw().source
        assert len(nodes(short)) == viz.DEFAULT_MAX_NODES
        assert f"showing {viz.DEFAULT_MAX_NODES} of 100,001 tensors" in short


# ---------------------------------------------------------------------------------------------
# NaN / Inf
# ---------------------------------------------------------------------------------------------


class TestNonFinite:
    def test_first_nan_in_topological_order_is_flagged(self):
        """log(-1) is the first NaN: its box, and only its box, is flagged in red."""
        x = Tensor([1.0, -1.0, 2.0], requires_grad=True, name="x")
        with np.errstate(invalid="ignore"):
            y = x.log().exp().sum()
        source = y.draw().source
        flagged = [n for n in nodes(source) if "first NaN/Inf value" in line_of(source, n)]
        assert flagged == [node_containing(source, ">log<")]
        assert "#c62828" in line_of(source, flagged[0])
        assert "#c62828" not in line_of(source, node_containing(source, ">exp<"))

    def test_a_nan_leaf_is_the_first(self):
        """A NaN already in an input is flagged on that input."""
        x = Tensor([np.nan, 1.0], requires_grad=True, name="x")
        source = x.exp().draw().source
        assert "first NaN/Inf value" in line_of(source, node_containing(source, ">x<"))

    def test_inf_counts_too(self):
        """exp(1000) overflows to inf and is flagged."""
        x = Tensor([1000.0], requires_grad=True, name="x")
        with np.errstate(over="ignore"):
            y = x.exp() * 0.5
        source = y.draw().source
        assert "first NaN/Inf value" in line_of(source, node_containing(source, ">exp<"))

    def test_finite_graph_has_no_flag(self):
        """Nothing is flagged when every value is finite."""
        net = two_layer()
        assert "NaN/Inf" not in net.J.draw().source

    def test_first_nan_outside_the_picture_is_named_in_a_note(self):
        """When max_nodes cuts off the first NaN, the caption says where it is."""
        x = Tensor([np.nan], requires_grad=True, name="x")
        y = x
        for _ in range(20):
            y = -y
        source = y.draw(max_nodes=5).source
        assert "first NaN/Inf value: x (1,), not drawn" in source


# ---------------------------------------------------------------------------------------------
# The backward picture
# ---------------------------------------------------------------------------------------------


class TestBackwardPicture:
    def test_only_tensors_that_carry_gradients(self):
        """X, Y and the constants drop out; the parameters and ops stay."""
        net = two_layer()
        net.J.backward()
        source = net.J.draw(backward=True).source
        assert ">X<" not in source and ">Y<" not in source
        assert len(nodes(source)) == sum(1 for t in viz.walk(net.J) if t.requires_grad)

    def test_arrows_point_from_the_output_to_the_inputs(self):
        """Edges run from each op to its inputs: the output has no incoming arrow, leaves no outgoing."""
        *_, y = affine_relu_sum()
        y.backward()
        source = y.draw(backward=True).source
        total = node_containing(source, ">sum<")
        W = node_containing(source, ">W<")
        pairs = edges(source)
        assert all(head != total for _, head in pairs)
        assert all(tail != W for tail, _ in pairs)
        assert (node_containing(source, ">matmul<"), W) in pairs

    def test_arrows_carry_the_vjp_formulas(self):
        """Each arrow is labelled with its op's VJP: dW = G·Xᵀ, Σ over axis 1, g * (x > 0)."""
        *_, y = affine_relu_sum()
        source = y.draw(backward=True).source
        matmul, W = node_containing(source, ">matmul<"), node_containing(source, ">W<")
        assert "dW = G·Xᵀ" in edge_line(source, matmul, W)
        broadcast, b = node_containing(source, "broadcast_to"), node_containing(source, ">b<")
        assert "dx = Σ g over axis 1" in edge_line(source, broadcast, b)
        assert "dx = g * (x &gt; 0)" in source
        assert "seed 1" in line_of(source, node_containing(source, ">sum<"))

    def test_both_matmul_formulas_when_both_operands_need_gradients(self):
        """With X requiring grad too, its arrow reads dX = Wᵀ·G."""
        W = Tensor(np.ones((2, 3)), requires_grad=True, name="W")
        X = Tensor(np.ones((3, 4)), requires_grad=True, name="X")
        source = (W @ X).sum().draw(backward=True).source
        matmul = node_containing(source, ">matmul<")
        assert "dX = Wᵀ·G" in edge_line(source, matmul, node_containing(source, ">X<"))

    def test_recorded_gradients_label_the_arrows(self):
        """With record_gradients, the arrow into W carries ‖dW‖ and the one into b the values of db."""
        net = two_layer()
        with viz.record_gradients() as flow:
            net.J.backward()
        source = net.J.draw(backward=True, gradients=flow).source
        W, b = node_containing(source, "layers.0.W"), node_containing(source, "layers.0.b")
        (into_W,) = [edge_line(source, tail, head) for tail, head in edges(source) if head == W]
        norm = float(re.search(rf"‖·‖ {NUMBER}", into_W).group(1))
        assert norm == pytest.approx(np.linalg.norm(net.W1.grad), rel=5e-3)
        (into_b,) = [edge_line(source, tail, head) for tail, head in edges(source) if head == b]
        flowed = [float(v) for v in re.findall(NUMBER, font_texts(into_b)[1])]
        np.testing.assert_allclose(flowed, net.b1.grad.ravel(), rtol=1e-3)

    def test_record_counts_every_vjp(self):
        """One summary per (op, input that needs a gradient) pair."""
        net = two_layer()
        with viz.record_gradients() as flow:
            net.J.backward()
        expected = sum(
            1 for t in viz.walk(net.J) if t.op is not None for p in t.parents if p.requires_grad
        )
        assert len(flow) == expected
        assert flow.get(net.X, 0) is None

    def test_grads_are_shown_by_default(self):
        """The backward picture shows each parameter's .grad."""
        net = two_layer()
        net.J.backward()
        source = net.J.draw(backward=True).source
        assert "grad  " in line_of(source, node_containing(source, "layers.2.W"))

    def test_first_nan_gradient_is_flagged(self):
        """d log(x) = g / x at x = 0 with g = 0 is NaN: x's box is flagged for its gradient."""
        x = Tensor([0.0, 1.0], requires_grad=True, name="x")
        with np.errstate(invalid="ignore", divide="ignore"):
            y = x.log().retain_grad()
            z = (y * 0.0).sum()
            z.backward()
        source = z.draw(backward=True).source
        assert "first NaN/Inf" in line_of(source, node_containing(source, ">x<"))

    def test_root_without_gradient(self):
        """A tensor that requires no grad draws as one box and a note."""
        source = Tensor([1.0, 2.0]).draw(backward=True).source
        assert len(nodes(source)) == 1
        assert "nothing here requires grad" in source


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------


class TestRender:
    def test_svg_file_is_valid_and_names_the_ops(self, tmp_path):
        """render writes an SVG that parses as XML and shows every op name and parameter."""
        net = two_layer()
        path = viz.render(net.J, tmp_path / "graph", format="svg")
        assert path == str(tmp_path / "graph.svg")
        texts = svg_texts(path)
        for name in ("matmul", "broadcast_to", "relu", "exp", "log", "sum", "layers.0.W", "layers.2.b"):
            assert name in texts

    def test_png_file_has_the_png_signature(self, tmp_path):
        """render writes a PNG whose header declares a non-empty image."""
        net = two_layer()
        path = viz.render(net.J, tmp_path / "graph.png", format="png")
        assert path == str(tmp_path / "graph.png")
        data = Path(path).read_bytes()
        assert data[:8] == PNG_MAGIC
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert width > 100 and height > 100

    def test_backward_picture_renders(self, tmp_path):
        """The backward picture with recorded gradients renders to SVG with its formulas."""
        net = two_layer()
        with viz.record_gradients() as flow:
            net.J.backward()
        path = viz.render(net.J, tmp_path / "backward", format="svg", backward=True, gradients=flow)
        texts = svg_texts(path)
        assert "dW = G·Xᵀ" in texts and "seed 1" in texts

    def test_dot_format_writes_the_source(self, tmp_path):
        """format="dot" writes the DOT text itself, creating missing folders."""
        *_, y = affine_relu_sum()
        path = viz.render(y, tmp_path / "deep" / "graph", format="dot")
        assert Path(path).read_text(encoding="utf-8") == y.draw().source

    def test_unknown_format_is_an_error(self, tmp_path):
        """Only svg, png and dot are written."""
        *_, y = affine_relu_sum()
        with pytest.raises(ValueError, match="pdf"):
            viz.render(y, tmp_path / "graph", format="pdf")

    def test_picture_displays_without_system_graphviz(self):
        """The Jupyter display path (pipe to SVG) and pipe to PNG go through vecgrad's renderer."""
        *_, y = affine_relu_sum()
        g = y.draw()
        bundle = g._repr_mimebundle_()
        assert ET.fromstring(bundle["image/svg+xml"].encode()).tag == f"{SVG}svg"
        assert g.pipe(format="png")[:8] == PNG_MAGIC

    def test_renderer_is_found_after_pip_install(self, monkeypatch):
        """With nothing on PATH, graphviz-pure is still found next to this interpreter."""
        monkeypatch.setenv("PATH", "")
        found = viz.find_renderer()
        assert found is not None and Path(found).name.startswith("graphviz-pure")

    def test_missing_renderer_gives_a_clear_message(self, monkeypatch, tmp_path):
        """No dot and no graphviz-pure: the error says what to install, and DOT still works."""
        monkeypatch.setenv("PATH", "")
        monkeypatch.setattr(renderer, "_script_dirs", lambda: [])
        *_, y = affine_relu_sum()
        with pytest.raises(viz.RendererNotFoundError, match="pip install graphviz-pure") as error:
            viz.render(y, tmp_path / "graph", format="svg")
        assert 'format="dot"' in str(error.value)
        assert Path(viz.render(y, tmp_path / "graph", format="dot")).exists()

    def test_a_system_dot_is_preferred(self, monkeypatch, tmp_path):
        """A dot command on PATH is the one that runs."""
        pure = viz.find_renderer()
        marker = tmp_path / "dot-ran"
        fake = tmp_path / "bin" / "dot"
        fake.parent.mkdir()
        fake.write_text(
            textwrap.dedent(
                f"""\
                #!{sys.executable}
                import os, sys
                open({str(marker)!r}, "w").close()
                os.execv({pure!r}, [{pure!r}] + sys.argv[1:])
                """
            )
        )
        fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
        monkeypatch.setenv("PATH", str(fake.parent) + os.pathsep + os.environ.get("PATH", ""))
        *_, y = affine_relu_sum()
        path = viz.render(y, tmp_path / "graph", format="svg")
        assert marker.exists()
        assert "matmul" in svg_texts(path)


# ---------------------------------------------------------------------------------------------
# The README pictures
# ---------------------------------------------------------------------------------------------


def load_make_pictures():
    spec = importlib.util.spec_from_file_location("make_pictures", REPO / "docs" / "make_pictures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TestReadmePictures:
    def test_script_regenerates_both_pictures(self, tmp_path):
        """docs/make_pictures.py writes a forward and a backward SVG of the two-layer network."""
        forward, backward = load_make_pictures().main(tmp_path)
        forward_texts, backward_texts = svg_texts(forward), svg_texts(backward)
        assert "matmul" in forward_texts and "layers.0.W" in forward_texts
        assert "dW = G·Xᵀ" in backward_texts and "grad" in backward_texts

    def test_committed_pictures_are_valid_svg(self):
        """docs/graph_forward.svg and docs/graph_backward.svg parse and show the layers."""
        for name in ("graph_forward.svg", "graph_backward.svg"):
            assert "layers.0" in svg_texts(REPO / "docs" / name)


# ---------------------------------------------------------------------------------------------
# graphviz's own render(), fonts, and the collapsed picture of a large scalar network
# ---------------------------------------------------------------------------------------------


def without_system_dot(monkeypatch):
    """No `dot` on PATH (graphviz-pure is still found next to this interpreter)."""
    monkeypatch.setenv("PATH", "")
    assert viz.find_renderer() is not None and Path(viz.find_renderer()).name.startswith("graphviz-pure")


class TestDigraphRender:
    def test_render_writes_source_and_svg_without_system_dot(self, monkeypatch, tmp_path):
        """y.draw().render("g") writes g (DOT) and g.svg, as graphviz does, with no system dot."""
        without_system_dot(monkeypatch)
        *_, y = affine_relu_sum()
        g = y.draw()
        path = g.render(tmp_path / "g")
        assert path == str(tmp_path / "g.svg")
        assert (tmp_path / "g").read_text(encoding="utf-8") == g.source
        assert "matmul" in svg_texts(path)

    def test_render_png_and_outfile(self, monkeypatch, tmp_path):
        """format="png" and outfile= give PNG files; cleanup removes the DOT source."""
        without_system_dot(monkeypatch)
        *_, y = affine_relu_sum()
        png = y.draw().render(tmp_path / "g", format="png", cleanup=True)
        assert Path(png).read_bytes()[:8] == PNG_MAGIC and not (tmp_path / "g").exists()
        out = y.draw().render(outfile=tmp_path / "picture.png")
        assert out == str(tmp_path / "picture.png") and Path(out).read_bytes()[:8] == PNG_MAGIC

    def test_formats_that_need_graphviz_say_so(self, monkeypatch, tmp_path):
        """pdf (or another engine) without a system dot raises naming what is missing."""
        without_system_dot(monkeypatch)
        *_, y = affine_relu_sum()
        with pytest.raises(viz.RendererNotFoundError, match="'pdf'.*system Graphviz"):
            y.draw().render(tmp_path / "g", format="pdf")
        with pytest.raises(viz.RendererNotFoundError, match="'neato'"):
            y.draw().render(tmp_path / "g", engine="neato")


def text_width(text: str, size: float, bold: bool) -> float:
    """The width in points of ``text`` set in DejaVu Sans (matplotlib ships the font)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    prop = FontProperties(family="DejaVu Sans", weight="bold" if bold else "normal", size=size)
    width, _, _ = TextToPath().get_text_width_height_descent(text, prop, ismath=False)
    return width


def overflowing_texts(path: str | Path) -> list[str]:
    """Texts of the SVG's nodes that do not fit inside their node's box, set in DejaVu Sans."""
    bad = []
    for node in ET.parse(path).getroot().iter(f"{SVG}g"):
        if node.get("class") != "node":
            continue
        corners = [re.findall(r"(-?[\d.]+),-?[\d.]+", p.get("d")) for p in node.iter(f"{SVG}path")]
        xs = [float(x) for points in corners for x in points]
        if not xs:
            continue  # a plain text node (constants) has no box
        left, right = min(xs), max(xs)
        for text in node.iter(f"{SVG}text"):
            bold = text.get("font-weight") == "bold"
            width = text_width(text.text or "", float(text.get("font-size")), bold)
            x = float(text.get("x"))
            start = {"start": x, "middle": x - width / 2, "end": x - width}[text.get("text-anchor", "start")]
            # 1 pt of slack: an advance width includes the glyph's side bearings.
            if start < left - 1 or start + width > right + 1:
                bad.append(f"{text.text!r}: [{start:.1f}, {start + width:.1f}] outside [{left}, {right}]")
    return bad


class TestFonts:
    def test_labels_fit_their_boxes_in_dejavu_sans(self, tmp_path):
        """Every label fits its box when set in DejaVu Sans, the widest common fallback font."""
        net = two_layer()
        with viz.record_gradients() as flow:
            net.J.backward()
        for options in ({}, {"show_values": True}, {"backward": True, "gradients": flow}):
            path = viz.render(net.J, tmp_path / "graph", format="svg", **options)
            assert overflowing_texts(path) == [], options

    def test_the_check_sees_an_overflow(self, tmp_path):
        """A picture laid out for Helvetica's narrower widths overflows in DejaVu Sans."""
        net = two_layer()
        source = net.J.draw().source.replace('fontname="DejaVu Sans"', 'fontname="Helvetica"')
        path = tmp_path / "helvetica.svg"
        path.write_bytes(viz.render_source(source, "svg"))
        assert overflowing_texts(path)

    def test_fused_op_titles_are_short(self):
        """A fused op is titled by its name; what it fuses is written below in small print."""
        import nn

        z = Tensor(np.random.default_rng(0).normal(size=(4, 3)), requires_grad=True)
        source = nn.softmax_cross_entropy(z, np.eye(4)[:, :3]).draw().source
        assert ">softmax_cross_entropy<" in source and "fused log_softmax + mul + sum" in source


def scalar_network(seed: int = 0, sizes=(3, 4, 4, 1)) -> Tensor:
    """A micrograd-style network of scalar tensors, one name scope per neuron, on 4 examples."""
    import nn

    rng = np.random.default_rng(seed)

    def neuron(n_in: int) -> tuple[list[Tensor], Tensor]:
        weights = [Tensor(rng.uniform(-1, 1), requires_grad=True) for _ in range(n_in)]
        return weights, Tensor(0.0, requires_grad=True)

    layers = [[neuron(n_in) for _ in range(n_out)] for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
    loss = Tensor(0.0)
    for x, y in zip(xs, [1.0, -1.0, -1.0, 1.0]):
        a = [Tensor(v, name=f"x{k + 1}") for k, v in enumerate(x)]
        for number, layer in enumerate(layers, 1):
            outputs = []
            for j, (w, b) in enumerate(layer):
                with name_scope(f"layer{number}.neuron{j}"):
                    outputs.append(nn.tanh(sum((wi * ai for wi, ai in zip(w, a)), b)))
            a = outputs
        with name_scope("loss"):
            loss = loss + (a[0] - y) ** 2
    return loss


class TestCollapsed:
    def test_one_box_per_neuron(self):
        """Hundreds of scalar tensors collapse to one box per neuron, per input name and the loss."""
        loss = scalar_network()
        assert len(viz.walk(loss, lambda t: True)) > 300
        source = loss.draw(collapse=True).source
        boxes = re.findall(r"^\s*(g\d+|t\d+) \[", source, re.M)
        titles = re.findall(r"<b>([^<]+)</b>", source)
        neurons = {f"layer{n}.neuron{j}" for n, width in ((1, 4), (2, 4), (3, 1)) for j in range(width)}
        assert neurons | {"x1", "x2", "x3", "loss"} == set(titles)
        assert len(boxes) == len(neurons) + 4

    def test_arrows_count_what_crosses(self):
        """Each neuron of layer 1 feeds each neuron of layer 2 once per example: 4 values, said
        once in the caption when every arrow carries the same number."""
        source = scalar_network().draw(collapse=True).source
        ids = dict(re.findall(r"^\s*(g\d+) \[label=<.*?<b>([^<]+)</b>", source, re.M))
        by_name = {name: node for node, name in ids.items()}
        assert edge_line(source, by_name["layer1.neuron0"], by_name["layer2.neuron3"]) is not None
        arrow_labels = re.findall(r"-> \w+ \[label=(.*)\]", source)
        assert "each arrow carries 4 values" in source and set(arrow_labels) == {'""'}
        mixed = (scalar_network() + Tensor(1.0, requires_grad=True, name="c") * 2).draw(collapse=True).source
        arrow_labels = re.findall(r"-> \w+ \[label=(.*)\]", mixed)
        assert any("×4" in label for label in arrow_labels) and "each arrow carries" not in mixed
        assert re.search(rf"^\s*{by_name['x1']} -> {by_name['layer1.neuron0']}", source, re.M)
        assert not re.search(rf"^\s*{by_name['x1']} -> {by_name['layer2.neuron0']}", source, re.M)

    def test_depth_groups_by_layer(self, tmp_path):
        """collapse=1 keeps the first part of each scope: one box per layer; it renders."""
        loss = scalar_network()
        source = loss.draw(collapse=1).source
        assert {"layer1", "layer2", "layer3", "loss"} <= set(re.findall(r"<b>([^<]+)</b>", source))
        path = viz.render(loss, tmp_path / "layers", format="svg", collapse=1)
        assert overflowing_texts(path) == []

    def test_bad_depth_is_an_error(self):
        """depth 0 names no scope at all."""
        from autograd.viz.collapsed import draw_collapsed

        with pytest.raises(ValueError, match="depth"):
            draw_collapsed(scalar_network(), depth=0)
