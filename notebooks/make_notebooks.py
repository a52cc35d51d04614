"""Write the teaching notebooks of ``notebooks/`` from the cell texts below.

The ``.ipynb`` files are the product; this script keeps their source reviewable as plain text.
They are written without outputs: the test suite (``tests/test_notebooks.py``) executes each one
in a fresh kernel. Run ``python notebooks/make_notebooks.py`` after editing a cell.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent


def md(text: str):
    return new_markdown_cell(textwrap.dedent(text).strip())


def code(text: str):
    return new_code_cell(textwrap.dedent(text).strip())


# ---------------------------------------------------------------------------------------------
# 1. Building models with operator overloading
# ---------------------------------------------------------------------------------------------


def operator_overloading() -> list:
    return [
        md(r"""
        # 1. Building models with operator overloading

        A `Tensor` wraps a NumPy array. Every operator (`+ - * / @ **`, unary `-`) and every method
        (`exp`, `log`, `relu`, `sum`, `mean`, `transpose`, `reshape`) goes through one function,
        `apply`, which computes the result and, when an input requires a gradient, records a
        *node*: the primitive that ran, its inputs, and its non-differentiable arguments (an axis,
        a shape). The program you write *is* the model; the graph is recorded as it runs.

        `backward()` walks those nodes from the output back to the leaves. At each node it applies
        the primitive's **vector-Jacobian product** (VJP), `dx = (∂f/∂x)ᵀ g`, with `g` the
        gradient arriving from above, using a closed form that never builds `∂f/∂x`. The last
        section measures why that matters.

        Notation (docs/maths.md): examples are **columns**. `A[0] = X` is `(n[0], m)`,
        `Z[l] = W[l] A[l-1] + b[l]`, `A[l] = g[l](Z[l])`, and `dX` means `∂J/∂X`, an array of
        `X`'s shape.
        """),
        code("""
        %matplotlib inline
        import time
        import tracemalloc

        import matplotlib.pyplot as plt
        import numpy as np

        from autograd import Tensor, no_grad
        from autograd.backward import toposort
        from autograd.checks import dense_jacobian, gradcheck, numerical_jacobian

        rng = np.random.default_rng(0)
        """),
        md(r"""
        ## Arithmetic records a graph

        Take `s = Σᵢⱼ (xᵢⱼ² + 3 xᵢⱼ)`. Each operator below appends one node. The constant `3` is
        wrapped as an untracked tensor, so it gets no node and no gradient.
        """),
        code("""
        x = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        y = x * x + 3 * x
        s = y.sum()
        print(s)

        # toposort lists the recorded nodes, each after its inputs: the order backward reverses.
        for node in toposort(s):
            inputs = ", ".join(p.op.name if p.op else "leaf" for p in node.parents)
            print(f"{node.op.name:>4}{str(node.shape):>8}   <- {inputs}")
        """),
        md(r"""
        `backward()` seeds `ds/ds = 1` and runs the VJPs in reverse order: `sum` broadcasts the
        seed back to `(2, 2)`, `add` passes it to both terms; the `mul` of `x * x` gives `g ⊙ x` to
        each of its two (identical) inputs, the `mul` of `3 * x` gives `3 g` to `x`. Every
        contribution to the leaf is summed, so `dx = 2x + 3`.
        """),
        code("""
        s.backward()
        print(x.grad)
        assert np.allclose(x.grad, 2 * x.data + 3)
        """),
        md(r"""
        A graph is consumed by its backward pass: a second `s.backward()` raises, unless the first
        passed `retain_graph=True`. Gradients **accumulate** into `.grad` (the sum over every
        path, and over every backward call), so training loops reset them between steps.
        """),
        code("""
        try:
            s.backward()
        except RuntimeError as error:
            print("RuntimeError:", error)

        x.grad = None
        y = (x * x).sum()
        y.backward(retain_graph=True)
        y.backward()  # a second pass adds the same gradient again
        print(x.grad, "= 2 * (2x)")
        """),
        md(r"""
        ## Derivatives of a whole curve in one backward pass

        Elementwise maps have a **diagonal** Jacobian, `∂A/∂Z = diag(g'(Z))`, so one backward pass
        seeded with ones returns `g'(zᵢ)` for every point at once. Here is the sigmoid written
        with primitives only, `A = 1 / (1 + exp(-Z))` (neg, exp, add, reciprocal), next to the
        closed form `dZ = dA ⊙ A ⊙ (1 - A)` from docs/maths.md.
        """),
        code("""
        z = Tensor(np.linspace(-6, 6, 241), requires_grad=True)
        a = 1 / (1 + (-z).exp())
        a.backward(np.ones(a.shape))

        closed_form = a.data * (1 - a.data)
        print("max |engine - A(1-A)| =", np.abs(z.grad - closed_form).max())

        fig, ax = plt.subplots(figsize=(6, 3.2))
        ax.plot(z.data, a.data, label="A = sigmoid(Z)")
        ax.plot(z.data, z.grad, label="dA/dZ from backward()")
        ax.plot(z.data[::12], closed_form[::12], "k.", label="A (1 - A), closed form")
        ax.set_xlabel("Z")
        ax.legend()
        ax.grid(alpha=0.3)
        plt.show()
        """),
        md(r"""
        ## A tiny network written by hand

        Two layers on `m` examples with `n[0] = 2` features, `n[1] = 8` ReLU units and one sigmoid
        output, trained on XOR-like labels (the sign of `x₁ x₂`):

        $$Z^{[1]} = W^{[1]} X + b^{[1]},\quad A^{[1]} = \max(0, Z^{[1]}),\quad
          Z^{[2]} = W^{[2]} A^{[1]} + b^{[2]},\quad A^{[2]} = \frac{1}{1 + e^{-Z^{[2]}}}$$

        $$J = -\frac{1}{m} \sum \Big(Y \odot \log A^{[2]} + (1 - Y) \odot \log(1 - A^{[2]})\Big)$$

        `b[l]` has shape `(n[l], 1)`; adding it to the `(n[l], m)` product records an explicit
        `broadcast_to` node, whose VJP sums the gradient over the columns: `db = Σ_axis1 dZ`.
        """),
        code("""
        n0, n1, n2, m = 2, 8, 1, 64
        X = rng.uniform(-1, 1, size=(n0, m))            # (n[0], m): one example per column
        Y = (X[0:1] * X[1:2] > 0).astype(np.float64)   # (1, m)

        W1 = Tensor(rng.standard_normal((n1, n0)), requires_grad=True)
        b1 = Tensor(np.zeros((n1, 1)), requires_grad=True)
        W2 = Tensor(rng.standard_normal((n2, n1)) / np.sqrt(n1), requires_grad=True)
        b2 = Tensor(np.zeros((n2, 1)), requires_grad=True)
        params = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}


        def cost(W1, b1, W2, b2):
            Z1 = W1 @ X + b1
            A1 = Z1.relu()
            Z2 = W2 @ A1 + b2
            A2 = 1 / (1 + (-Z2).exp())
            return -(Y * A2.log() + (1 - Y) * (1 - A2).log()).sum() / m


        J = cost(W1, b1, W2, b2)
        J.backward()
        print(f"J = {J.item():.4f}")
        for name, p in params.items():
            print(f"{name}: value {p.shape}, grad {p.grad.shape}, |grad| = {np.linalg.norm(p.grad):.4f}")
        """),
        md(r"""
        Each gradient has its parameter's shape, so plain gradient descent is
        `W ← W - α dW`. The update itself must not be recorded: it is done on the arrays, and
        `.grad` is reset before the next backward, since gradients accumulate.
        """),
        code("""
        alpha, history = 0.5, []
        for _ in range(300):
            for p in params.values():
                p.grad = None
            J = cost(W1, b1, W2, b2)
            J.backward()
            history.append(J.item())
            with no_grad():
                for p in params.values():
                    p.data = p.data - alpha * p.grad

        accuracy = ((W2.data @ np.maximum(W1.data @ X + b1.data, 0) + b2.data > 0) == Y).mean()
        print(f"cost {history[0]:.3f} -> {history[-1]:.3f}, training accuracy {accuracy:.0%}")

        fig, ax = plt.subplots(figsize=(6, 3))
        ax.plot(history)
        ax.set_xlabel("gradient step")
        ax.set_ylabel("J")
        ax.set_title("the hand-written network learning XOR")
        ax.grid(alpha=0.3)
        plt.show()
        """),
        md(r"""
        ## Checking a gradient

        An outside referee: central finite differences in float64,
        `(J(θ + ε eⱼ) - J(θ - ε eⱼ)) / 2ε` with `ε = 10⁻⁶`, one pair of evaluations per parameter
        entry. `gradcheck` compares them with the Jacobian reverse mode gives (one backward per
        output element), entry by entry, and returns `True` or raises with the worst entry.
        """),
        code("""
        print("gradcheck:", gradcheck(cost, W1, b1, W2, b2))

        for p in params.values():
            p.grad = None
        cost(W1, b1, W2, b2).backward()
        numeric = numerical_jacobian(cost, W1, b1, W2, b2)
        for (name, p), J_num in zip(params.items(), numeric):
            # J has one output, so its Jacobian is one row: the gradient, flattened.
            diff = np.abs(p.grad.reshape(-1) - J_num.reshape(-1)).max()
            print(f"{name}: max |backward - finite differences| = {diff:.2e}")
        """),
        md(r"""
        ## The dense Jacobian, on a tiny shape

        For `F = W X` with `W` `(n, k)` and `X` `(k, m)`, the Jacobian of `vec(F)` (row-major)
        with respect to `vec(W)` is the Kronecker product `I_n ⊗ Xᵀ`, of shape `(n·m, n·k)`. Its
        product with the upstream gradient is

        $$\big(I_n \otimes X^\top\big)^\top \operatorname{vec}(G) = \operatorname{vec}(G X^\top),$$

        which is the matmul VJP `dW = G Xᵀ`: one small matmul instead of an `(n·m) × (n·k)`
        matrix. `dense_jacobian` builds the full matrix from the Jacobian pattern (independently
        of the VJP rule), so on a tiny shape we can check the shortcut.
        """),
        code("""
        n, k, mm = 3, 4, 5
        W_small = rng.standard_normal((n, k))
        X_small = rng.standard_normal((k, mm))
        G = rng.standard_normal((n, mm))  # upstream gradient dF

        J_W, J_X = dense_jacobian("matmul", W_small, X_small)
        print("dF/dW:", J_W.shape, "  dF/dX:", J_X.shape)

        Wt = Tensor(W_small, requires_grad=True)
        Xt = Tensor(X_small, requires_grad=True)
        (Wt @ Xt).backward(G)

        print("J_Wᵀ vec(G) == backward's dW:", np.allclose(J_W.T @ G.reshape(-1), Wt.grad.reshape(-1)))
        print("J_Xᵀ vec(G) == backward's dX:", np.allclose(J_X.T @ G.reshape(-1), Xt.grad.reshape(-1)))
        print("dW == G Xᵀ:", np.allclose(Wt.grad, G @ X_small.T))
        print(f"nonzero entries: dF/dW {np.count_nonzero(J_W) / J_W.size:.0%}, "
              f"dF/dX {np.count_nonzero(J_X) / J_X.size:.0%}")
        """),
        md(r"""
        The pictures show the pattern docs/maths.md names, *each slice copies a row of the other
        operand*: `∂F/∂W` is block diagonal (row `i` of `F` depends only on row `i` of `W`), and
        `∂F/∂X = W ⊗ I_m` repeats each entry of `W` along a diagonal.
        """),
        code("""
        fig, axes = plt.subplots(1, 2, figsize=(9, 4))
        panels = [(J_W, "∂vec(F)/∂vec(W) = I ⊗ Xᵀ"), (J_X, "∂vec(F)/∂vec(X) = W ⊗ I")]
        for ax, (jac, title) in zip(axes, panels):
            limit = np.abs(jac).max()
            ax.imshow(jac, cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_title(f"{title}\\n{jac.shape[0]} × {jac.shape[1]}")
            ax.set_xlabel("input entry")
            ax.set_ylabel("output entry")
        plt.tight_layout()
        plt.show()
        """),
        md(r"""
        ## Why the dense Jacobian is never built

        Take the matmul of docs/maths.md: `W` `(2048, 2048)` times `X` `(2048, 128)`. The Jacobian of
        `F` with respect to `W` has `(2048·128) × (2048·2048) ≈ 1.1 × 10¹²` entries. The gradient
        `dW = G Xᵀ` has the shape of `W`: 4.2 million entries.

        First, the growth, measured. For `W` `(n, n)` and `X` `(n, n/16)` (the same proportions),
        we build the dense Jacobian with `dense_jacobian` while it is still small, and measure the
        peak memory that `tracemalloc` sees *during backward* (NumPy reports its array buffers to
        it). All arrays are float64 here.
        """),
        code("""
        def backward_peak_bytes(n, dtype=np.float64):
            W = Tensor(rng.standard_normal((n, n)).astype(dtype), requires_grad=True)
            X = Tensor(rng.standard_normal((n, max(n // 16, 1))).astype(dtype))
            F = W @ X
            G = np.ones(F.shape, dtype=dtype)
            tracemalloc.start()
            start = time.perf_counter()
            F.backward(G)
            seconds = time.perf_counter() - start
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            return peak, seconds


        def dense_jacobian_bytes_measured(n):
            W = rng.standard_normal((n, n))
            X = rng.standard_normal((n, max(n // 16, 1)))
            J_W = dense_jacobian("matmul", W, X)[0]
            return J_W.nbytes


        small = [16, 32, 48, 64, 96]
        dense_measured = [dense_jacobian_bytes_measured(n) for n in small]
        sizes = [16, 32, 64, 128, 256, 512, 1024, 2048]
        backward_measured = [backward_peak_bytes(n)[0] for n in sizes]
        for n, b in zip(small, dense_measured):
            print(f"n = {n:4d}: dense dF/dW built, {b / 2**20:9.2f} MiB")
        for n, b in zip(sizes, backward_measured):
            print(f"n = {n:4d}: backward peak     {b / 2**20:9.2f} MiB")
        """),
        code("""
        ns = np.array(sizes, dtype=float)
        dense_formula = (ns * np.maximum(ns // 16, 1)) * (ns * ns) * 8  # (n·m) × (n·n) float64 entries

        fig, ax = plt.subplots(figsize=(7, 4.2))
        ax.loglog(ns, dense_formula, "--", color="tab:red", label="dense ∂F/∂W, (n·m)·n² entries × 8 bytes")
        ax.loglog(small, dense_measured, "o", color="tab:red", label="dense ∂F/∂W, built and measured")
        ax.loglog(sizes, backward_measured, "s-", color="tab:blue", label="backward, tracemalloc peak")
        ax.axhline(16 * 2**30, color="gray", lw=0.8)
        ax.text(17, 16 * 2**30 * 1.5, "16 GiB of RAM", color="gray")
        ax.set_xlabel("n   (W is n × n, X is n × n/16)")
        ax.set_ylabel("bytes")
        ax.set_title("the Jacobian grows like n⁴, backward like n²")
        ax.legend(loc="upper left", fontsize=8)
        ax.grid(alpha=0.3, which="both")
        plt.show()
        """),
        md(r"""
        Now the case itself, in float32 as a network would run it. The dense Jacobian would need
        `out.size × W.size × 4` bytes; backward's peak is measured.
        """),
        code("""
        W = Tensor(rng.standard_normal((2048, 2048), dtype=np.float32), requires_grad=True)
        X = Tensor(rng.standard_normal((2048, 128), dtype=np.float32))
        F = W @ X
        G = rng.standard_normal(F.shape, dtype=np.float32)

        tracemalloc.start()
        start = time.perf_counter()
        F.backward(G)
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()

        dense_bytes = F.size * W.size * W.data.itemsize
        print(f"dense Jacobian dF/dW : {F.size} x {W.size} entries = {dense_bytes / 1e12:.1f} TB")
        print(f"gradient dW          : {W.grad.nbytes / 2**20:.0f} MiB")
        print(f"backward peak memory : {peak / 2**20:.0f} MiB (measured), in {seconds * 1e3:.0f} ms")
        print(f"ratio                : {dense_bytes / peak:.1e}")
        assert np.allclose(W.grad, G @ X.data.T, rtol=1e-3, atol=1e-2)
        """),
        md(r"""
        Backward's peak is a small multiple of the gradient's own 16 MiB (the gradient and a
        temporary of its size): about 10⁵ times less than the Jacobian, for the cost of one
        matmul. That is the whole
        design of the engine. Every primitive's Jacobian is sparse with a known pattern (diagonal,
        identity blocks, Kronecker products, selections), and its VJP and JVP are the closed forms
        of its product with a vector, costing no more than the primitive itself. The dense
        Jacobian exists only in `autograd.checks`, on tiny shapes, to prove those closed forms
        right.
        """),
    ]


# ---------------------------------------------------------------------------------------------
# 2. Rendering computation graphs
# ---------------------------------------------------------------------------------------------


def rendering_graphs() -> list:
    return [
        md(r"""
        # 2. Rendering computation graphs

        Every tensor remembers the primitive that made it and its inputs, so the graph behind any
        result can be drawn. `y.draw(**options)` returns a `graphviz.Digraph`: Jupyter shows it
        inline as SVG, and `g.source` is its DOT text. `viz.render(y, path, format)` writes SVG or
        PNG. The layout is done by a system Graphviz `dot` when there is one, else by the
        `graphviz-pure` renderer that pip installs with vecgrad, so the pictures need no system
        package.

        The pictures use the notation of docs/maths.md: examples are columns, `Z = W A + b` with `b` of
        shape `(n, 1)`.
        """),
        code("""
        import tempfile
        from pathlib import Path

        import graphviz
        import numpy as np
        from IPython.display import Image, display

        import nn
        from autograd import Tensor, viz
        from autograd.viz import record_gradients

        rng = np.random.default_rng(0)
        print("Graphviz renderer found:", viz.find_renderer() is not None)
        """),
        md(r"""
        ## One layer: `Z = W X + b`

        How to read a picture, top to bottom from the inputs to the output:

        * gold boxes are **parameters** (leaves that require a gradient), blue boxes are **data**;
        * a white box is one **primitive**: its name, then a **badge** with the Jacobian shortcut
          its VJP uses (`diag`, `G·Xᵀ / Wᵀ·G`, `Σ axis 1`) and the bytes the *dense* Jacobian of
          that op would take, then the output's shape and dtype;
        * the output is outlined in green.
        """),
        code("""
        W = Tensor(rng.standard_normal((3, 2)), requires_grad=True, name="W")
        b = Tensor(np.zeros((3, 1)), requires_grad=True, name="b")
        X = Tensor(rng.standard_normal((2, 4)), name="X")  # (n[0], m) = (2, 4): 4 examples
        Z = W @ X + b

        g = Z.draw()
        print(type(g).__name__, "is a graphviz.Digraph:", isinstance(g, graphviz.Digraph))
        print("\\n".join(g.source.splitlines()[:4]), "\\n...")
        display(g)
        """),
        md(r"""
        ## A broadcast node

        `b` is `(3, 1)` and `W X` is `(3, 4)`. The engine never lets `add` see two shapes: it
        records an explicit `broadcast_to(b, (3, 4))` node (drawn dashed), which copies `b` into
        each of the 4 columns. Its Jacobian has one 1 per output element, so its VJP is the sum
        of the upstream gradient over the replicated axis, the badge `Σ axis 1`:

        $$db = \sum_{\text{axis } 1} dZ \quad\text{(shape } (3, 1)\text{)}.$$

        A bias that is a plain array (a constant) gets no node at all: NumPy broadcasts it, and no
        gradient is owed to it.
        """),
        code("""
        G = rng.standard_normal(Z.shape)  # an upstream gradient dZ
        Z.backward(G)
        print("db =", b.grad.ravel(), "  shape", b.grad.shape)
        print("Σ_axis1 dZ =", G.sum(axis=1))
        assert np.allclose(b.grad, G.sum(axis=1, keepdims=True))

        Z_constant_bias = W @ X + np.ones((3, 1))
        print("ops with a tracked b:  ", [t.op.name for t in viz.walk(Z) if t.op])
        print("ops with a constant b: ", [t.op.name for t in viz.walk(Z_constant_bias) if t.op])
        display(Z_constant_bias.draw(rankdir="LR"))
        """),
        md(r"""
        ## A two-layer network: one cluster per layer

        `nn` modules compose engine operations; each module runs inside
        `autograd.name_scope(<its name>)`, so every node it records carries a `scope`, and its
        parameters are named by their path (`0.W`, `2.b`). The picture groups the nodes of each
        scope in a cluster: layer `0` (`Z[1] = W[1] X + b[1]`), the ReLU `1`, layer `2`
        (`Z[2] = W[2] A[1] + b[2]`).
        """),
        code("""
        n0, n1, n2, m = 4, 5, 3, 6
        net = nn.Sequential(
            nn.Linear(n0, n1, dtype=np.float64, rng=1),
            nn.ReLU(),
            nn.Linear(n1, n2, dtype=np.float64, rng=2),
        )
        print(net)
        print("parameters:", [name for name, _ in net.named_parameters()])

        X = Tensor(rng.standard_normal((n0, m)), name="X")
        Y = np.eye(n2)[:, rng.integers(0, n2, size=m)]  # one-hot columns, (n[2], m)
        Z2 = net(X)
        print("scopes of the recorded nodes:", sorted({t.scope for t in viz.walk(Z2) if t.op}))
        display(Z2.draw(title="Z[2] = W[2] relu(W[1] X + b[1]) + b[2]"))
        """),
        md(r"""
        ## Values and gradients

        `show_values=True` adds a summary of each tensor's values (all of them up to 4 elements,
        otherwise min, mean, max and the norm `‖·‖`); `show_grads=True` adds the `.grad` that
        backward left on the leaves. Here the network is followed by the softmax cross-entropy
        `J`, and the picture is drawn from `Z[2]` after `J.backward()`.
        """),
        code("""
        J = nn.softmax_cross_entropy(Z2, Y)
        J.backward()
        print(f"J = {J.item():.4f}")
        display(Z2.draw(show_values=True, show_grads=True))
        """),
        md(r"""
        ## The backward pass, drawn

        `draw(backward=True)` keeps only the tensors gradients flow through and reverses the
        arrows: the output is at the top with its seed `dJ/dJ = 1`, and every arrow is labelled
        with the VJP that computes the gradient it carries (`dW = G·Xᵀ`, `dX = Wᵀ·G`,
        `dx = g * (x > 0)`, ...). Backward stores gradients only on the leaves; to see what flowed
        along every edge, `record_gradients()` watches a backward pass and keeps a one-line
        summary per edge.
        """),
        code("""
        net.zero_grad()
        J = nn.softmax_cross_entropy(net(X), Y)
        with record_gradients() as flow:
            J.backward()
        print(len(flow), "gradients recorded")
        display(J.draw(backward=True, gradients=flow))
        """),
        md(r"""
        ## The Jacobian badges, added up

        Each badge's byte count is what the op's Jacobian would take as a dense array,
        `Σ out.size × in.size × itemsize` over the inputs that need a gradient. For the tiny
        network above these are kilobytes. For a digits-sized network, `64 → 256 → 10` on a
        batch of `m = 128` in float32, add them up over the whole graph and compare with the
        arrays backward actually sends, one gradient of each tensor's own size.
        """),
        code("""
        big = nn.Sequential(nn.Linear(64, 256, rng=3), nn.ReLU(), nn.Linear(256, 10, rng=4))
        Xb = rng.standard_normal((64, 128)).astype(np.float32)
        Yb = np.eye(10, dtype=np.float32)[:, rng.integers(0, 10, size=128)]
        Jb = nn.softmax_cross_entropy(big(Xb), Yb)

        dense_by_op, gradient_bytes = {}, 0
        for t in viz.walk(Jb):
            if t.op is None:
                continue
            dense = sum(t.size * p.size * t.dtype.itemsize for p in t.parents if p.requires_grad)
            dense_by_op[t.op.name] = dense_by_op.get(t.op.name, 0) + dense
            gradient_bytes += sum(p.size * p.dtype.itemsize for p in t.parents if p.requires_grad)

        for name, dense in sorted(dense_by_op.items(), key=lambda item: -item[1]):
            print(f"{name:>13}: dense Jacobians {dense / 2**20:12.2f} MiB")
        total = sum(dense_by_op.values())
        print(f"{'total':>13}: dense Jacobians {total / 2**20:12.2f} MiB"
              f"  vs  gradients sent by backward {gradient_bytes / 2**20:.2f} MiB"
              f"  ({total / gradient_bytes:,.0f}x)")
        """),
        md(r"""
        ## What the softmax cross-entropy graph looks like

        From logits `Z` `(n, m)` and one-hot `Y`, docs/maths.md's multiclass cost is
        `J = -(1/m) Σ Y ⊙ log softmax(Z)`. `nn.softmax_cross_entropy` computes it from the logits,
        stably:

        $$\log \operatorname{softmax}(Z) = (Z - c) - \log \sum_{\text{axis }0} e^{Z - c},
          \qquad c = \max_{\text{axis }0} Z \text{ (a constant)}.$$

        In the picture: the constant `-c` `(1, m)` added to `Z` (NumPy broadcasts a constant: no
        node), `exp`, a `sum` over axis 0 (a row of ones), `log`, `neg`, a `broadcast_to` back over
        the `n` rows, the product with the constant `Y` and the final sum times `-1/m`. Nothing
        overflows, whatever the logits: `exp` only sees numbers `≤ 0`, and `log` only numbers
        `≥ 1`.
        """),
        code("""
        logits = Tensor(rng.standard_normal((3, 4)), requires_grad=True, name="Z")
        Y4 = np.eye(3)[:, [0, 2, 1, 2]]
        J_ce = nn.softmax_cross_entropy(logits, Y4)
        display(J_ce.draw(show_values=True, title="J = -(1/m) Σ Y * log_softmax(Z)"))
        """),
        md(r"""
        The gradient of this whole chain collapses to docs/maths.md's `dZ[L] = (A - Y)/m` with
        `A = softmax(Z)`. The backward picture shows the pieces that add up to it; the check
        below confirms the sum, and that the composed form `categorical_cross_entropy(softmax(Z))`
        (softmax, then the log of its probabilities) gives the same cost and gradient, where it
        does not overflow.
        """),
        code("""
        with record_gradients() as flow:
            J_ce.backward()
        A = np.exp(logits.data) / np.exp(logits.data).sum(axis=0, keepdims=True)
        print("max |dZ - (A - Y)/m| =", np.abs(logits.grad - (A - Y4) / 4).max())

        Z_again = Tensor(logits.data, requires_grad=True)
        composed = nn.categorical_cross_entropy(nn.softmax(Z_again), Y4)
        composed.backward()
        print("same cost:", np.isclose(J_ce.item(), composed.item()),
              " same gradient:", np.allclose(logits.grad, Z_again.grad))

        extreme = Tensor([[1000.0], [0.0], [-1000.0]], requires_grad=True)
        J_extreme = nn.softmax_cross_entropy(extreme, np.array([[0.0], [0.0], [1.0]]))
        J_extreme.backward()
        print("logits (1000, 0, -1000), target class 2: J =", J_extreme.item(), " dZ =", extreme.grad.ravel())
        display(J_ce.draw(backward=True, gradients=flow))
        """),
        md(r"""
        ## Writing pictures to files

        `viz.render(y, path, format)` writes the picture (the extension is added) and returns
        the path. Here the files go to a temporary directory.
        """),
        code("""
        out = Path(tempfile.mkdtemp(prefix="vecgrad-graphs-"))
        svg_path = viz.render(J, out / "two_layer", format="svg")
        png_path = viz.render(Z2, out / "two_layer_forward", format="png", rankdir="LR")
        for path in (svg_path, png_path):
            print(Path(path).name, f"{Path(path).stat().st_size:,} bytes")
        display(Image(filename=png_path))
        """),
    ]


# ---------------------------------------------------------------------------------------------
# 3. Forward vs reverse accumulation
# ---------------------------------------------------------------------------------------------


def forward_vs_reverse() -> list:
    return [
        md(r"""
        # 3. Forward vs reverse accumulation

        For `f: Rⁿ → Rᵐ` with Jacobian `J` `(m, n)`, the engine has two ways to use the chain rule,
        both from the same primitive table:

        * **forward mode** pushes a tangent `v ∈ Rⁿ` from the inputs to the output alongside the
          values (dual numbers): one sweep gives `J v`, a combination of *columns*;
        * **reverse mode** records the graph, then pulls a cotangent `u ∈ Rᵐ` from the output back
          to the inputs: one sweep gives `uᵀ J`, a combination of *rows*.

        The full Jacobian therefore takes **n forward sweeps** or **m reverse sweeps**. A training
        cost has `m = 1` and `n` = the number of parameters: reverse mode wins by a factor of
        about `n`. Every count below is taken by the engine as it runs (`autograd.counters`),
        never computed from shapes.
        """),
        code("""
        %matplotlib inline
        import subprocess
        import sys
        import tempfile
        from pathlib import Path

        import matplotlib.pyplot as plt
        import numpy as np
        from IPython.display import Image, display

        import nn
        from autograd import Tensor, grad, jacfwd, jacrev, jvp, vjp
        from autograd.compare import compare_modes
        from autograd.counters import count
        from autograd.sparsity import colour_columns, jacobian_pattern

        rng = np.random.default_rng(0)
        """),
        md(r"""
        ## JVP and VJP by hand

        Take `f(x) = tanh(W x + b)` with `W` `(m, n)`. With `a = f(x)`, the chain rule gives the
        Jacobian in closed form,

        $$J = \operatorname{diag}(1 - a \odot a)\, W \qquad (m \times n),$$

        so `J v = (1 - a ⊙ a) ⊙ (W v)` and `Jᵀ u = Wᵀ ((1 - a ⊙ a) ⊙ u)`: neither needs `J`
        itself. `jvp` and `vjp` compute exactly these, one sweep each.
        """),
        code("""
        n, m = 4, 3
        W = rng.standard_normal((m, n))
        b = rng.standard_normal(m)


        def f(x):
            return nn.tanh(W @ x + b)


        x0 = rng.standard_normal(n)
        v = rng.standard_normal(n)  # a tangent: a direction in input space
        u = rng.standard_normal(m)  # a cotangent: a weighting of the outputs

        a = np.tanh(W @ x0 + b)
        J_by_hand = (1 - a * a)[:, None] * W

        value, Jv = jvp(f, (x0,), (v,))
        value, pullback = vjp(f, x0)
        (uJ,) = pullback(u)
        print("J v  :", Jv, "  by hand:", J_by_hand @ v)
        print("uᵀ J :", uJ, "  by hand:", u @ J_by_hand)
        assert np.allclose(Jv, J_by_hand @ v) and np.allclose(uJ, u @ J_by_hand)
        """),
        md(r"""
        The two modes check each other without any finite difference: for any `u`, `v`,
        `⟨u, J v⟩ = ⟨Jᵀ u, v⟩` (the dot-product test). Both sides are exact, so they agree to
        rounding.
        """),
        code("""
        left, right = u @ Jv, uJ @ v
        print(f"<u, Jv>  = {left:.15f}")
        print(f"<Jᵀu, v> = {right:.15f}")
        print(f"relative gap {abs(left - right) / abs(left):.1e}")
        """),
        md(r"""
        ### Inside: dual numbers and a tape, on one graph

        A tensor can carry a tangent. When an input carries one, every primitive also runs its JVP
        rule, so the output carries `ȧ = J ẋ` (this is what `jvp` does, under `no_grad`). Here the
        input carries the tangent `v` *and* requires a gradient, so the same evaluation also records
        the graph; `backward(u)` then runs the VJP rules. The picture shows each tensor's value,
        tangent (forward mode) and, on the leaf, the gradient (reverse mode).
        """),
        code("""
        x = Tensor(x0, requires_grad=True, name="x")
        x._tangent = v.copy()  # seed forward mode by hand (jvp does this for you): ẋ = v
        y = f(x)
        y.backward(u)  # seed reverse mode: ȳ = u
        print("output tangent  J v :", y.tangent)
        print("input gradient uᵀ J :", x.grad)
        display(y.draw(show_values=True, show_grads=True, badges=False))
        """),
        md(r"""
        ## `jacfwd` vs `jacrev`

        `jacfwd` seeds the basis vectors `e_j` one at a time (`n` forward sweeps, column by
        column); `jacrev` records `f` once and pulls back `e_i` for each output (`m` reverse
        sweeps, row by row). Same Jacobian, different bills: here `n = 4`, `m = 3`.
        """),
        code("""
        with count() as forward_count:
            J_forward = jacfwd(f)(x0)
        with count() as reverse_count:
            J_reverse = jacrev(f)(x0)

        print("jacfwd == jacrev:", np.allclose(J_forward, J_reverse))
        print("jacfwd == by hand:", np.allclose(J_forward, J_by_hand))
        print("\\njacfwd:\\n" + forward_count.table())
        print("\\njacrev:\\n" + reverse_count.table())
        """),
        md(r"""
        ## The sweep counts over the `(n, m)` grid

        `compare_modes(f, x)` computes one Jacobian both ways, counting sweeps and primitive calls
        with the engine's counters and timing each mode on its own. Over a grid of
        `f(x) = tanh(W x + b)`, `W` `(m, n)`, forward mode always takes `n` sweeps and reverse
        mode `m`: forward wins below the diagonal `n = m` (tall Jacobians), reverse above it.
        """),
        code("""
        def dense_problem(n, m, seed=0):
            r = np.random.default_rng(seed)
            W = r.standard_normal((m, n)) / np.sqrt(n)
            b = r.standard_normal(m)
            return (lambda x: nn.tanh(W @ x + b)), r.standard_normal(n)


        sizes = [1, 4, 16, 64, 256]
        grid = {}
        for n in sizes:
            for m in sizes:
                g, x = dense_problem(n, m)
                grid[n, m] = compare_modes(g, x, sparse=False, repeats=3)

        print("forward sweeps (rows n, columns m) / reverse sweeps, as counted:")
        for n in sizes:
            cells = [f"{grid[n, m].forward_sweeps:>3}/{grid[n, m].reverse_sweeps:<3}" for m in sizes]
            print(f"n={n:>3}: " + "  ".join(cells))
        print("largest |J_forward - J_reverse| over the grid:", max(r.max_abs_diff for r in grid.values()))
        """),
        code("""
        fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))

        # Left: which mode was faster, measured, over the grid; the text is the counted sweeps.
        ratio = np.array([[grid[n, m].forward_seconds / grid[n, m].reverse_seconds for m in sizes]
                          for n in sizes])
        image = left.imshow(np.log10(ratio), cmap="coolwarm", vmin=-2, vmax=2, origin="lower")
        for i, n in enumerate(sizes):
            for j, m in enumerate(sizes):
                left.text(j, i, f"{grid[n, m].forward_sweeps} : {grid[n, m].reverse_sweeps}",
                          ha="center", va="center", fontsize=8)
        left.plot([-0.5, len(sizes) - 0.5], [-0.5, len(sizes) - 0.5], "k--", lw=1)
        left.set_xticks(range(len(sizes)), sizes)
        left.set_yticks(range(len(sizes)), sizes)
        left.set_xlabel("m (outputs)")
        left.set_ylabel("n (inputs)")
        left.set_title("forward : reverse sweeps (counted)\\ncolour: log10(forward s / reverse s), measured")
        fig.colorbar(image, ax=left, label="red: reverse faster, blue: forward faster")

        # Right: the crossover along a row of the grid, m = 16 outputs and n growing.
        m_fixed = 16
        ns = [1, 2, 4, 8, 16, 32, 64, 128, 256]
        row = []
        for n in ns:
            g, x = dense_problem(n, m_fixed)
            row.append(compare_modes(g, x, sparse=False, repeats=3))
        right.loglog(ns, [r.forward_sweeps for r in row], "o-", label="forward sweeps (= n)")
        right.loglog(ns, [r.reverse_sweeps for r in row], "s-", label="reverse sweeps (= m)")
        twin = right.twinx()
        twin.loglog(ns, [r.forward_seconds for r in row], "o:", color="tab:blue", alpha=0.6)
        twin.loglog(ns, [r.reverse_seconds for r in row], "s:", color="tab:orange", alpha=0.6)
        twin.set_ylabel("seconds (dotted), measured")
        right.axvline(m_fixed, color="gray", lw=1, ls="--")
        right.text(m_fixed * 1.1, 1.2, "n = m", color="gray")
        right.set_xlabel("n (inputs), with m = 16 outputs")
        right.set_ylabel("sweeps (solid), counted")
        right.set_title("the crossover at n = m")
        right.legend(loc="upper left")
        plt.tight_layout()
        plt.show()
        """),
        md(r"""
        The same comparison ships as a command, `python -m autograd.compare`, which prints the table
        and writes a plot (here with `--quick`, into a temporary directory). It also adds a
        diagonal map, a tridiagonal one and a network's cost, which the next sections take apart.
        """),
        code("""
        out = Path(tempfile.mkdtemp(prefix="vecgrad-compare-"))
        run = subprocess.run(
            [sys.executable, "-m", "autograd.compare", "--quick", "--out", str(out / "compare.png")],
            capture_output=True, text=True, check=True,
        )
        print(run.stdout)
        display(Image(filename=out / "compare.png"))
        """),
        md(r"""
        ## An MLP's gradient: P sweeps against 1

        The cost of a network as a function of its parameters, `J(W[1], b[1], W[2], b[2])`, maps
        `P` numbers to one. Forward mode needs one sweep per parameter, `P` sweeps; reverse mode
        needs one. Here `64 → 16 → 10` on 64 digits, in float64:
        `P = 16·64 + 16 + 10·16 + 10 = 1210`.
        """),
        code("""
        X_train, Y_train, _, _ = nn.data.load_digits(dtype=np.float64)
        X, Y = X_train[:, :64], Y_train[:, :64]
        params = [p.data for p in nn.MLP([64, 16, 10], dtype=np.float64, rng=0).parameters()]
        P = sum(p.size for p in params)


        def cost(W1, b1, W2, b2):
            Z1 = W1 @ X + b1
            A1 = nn.relu(Z1)
            Z2 = W2 @ A1 + b2
            return nn.softmax_cross_entropy(Z2, Y)


        all_params = (0, 1, 2, 3)
        with count() as reverse_count:
            grads_reverse = grad(cost, all_params)(*params)
        with count() as forward_count:
            grads_forward = jacfwd(cost, all_params)(*params)  # a (1,)-shaped output per parameter

        mlp = compare_modes(cost, tuple(params), sparse=False, repeats=3)
        print(f"P = {P} parameters, 1 output")
        for mode, sweeps, calls, seconds in [
            ("reverse", reverse_count.reverse_sweeps, reverse_count.primitive_calls, mlp.reverse_seconds),
            ("forward", forward_count.forward_sweeps, forward_count.primitive_calls, mlp.forward_seconds),
        ]:
            print(f"{mode}: {sweeps:>5} sweeps, {calls:>6} primitive calls, {seconds * 1e3:7.2f} ms")
        print("same gradient:", max(np.abs(g1 - g2).max() for g1, g2 in zip(grads_reverse, grads_forward)))
        """),
        code("""
        labels = ["sweeps", "primitive calls", "milliseconds"]
        forward_values = [forward_count.forward_sweeps, forward_count.primitive_calls,
                          mlp.forward_seconds * 1e3]
        reverse_values = [reverse_count.reverse_sweeps, reverse_count.primitive_calls,
                          mlp.reverse_seconds * 1e3]
        positions = np.arange(len(labels))
        fig, ax = plt.subplots(figsize=(7, 3.6))
        ax.bar(positions - 0.2, forward_values, 0.4, label="forward mode (jacfwd)")
        ax.bar(positions + 0.2, reverse_values, 0.4, label="reverse mode (grad)")
        for position, fv, rv in zip(positions, forward_values, reverse_values):
            ax.text(position, max(fv, rv) * 1.5, f"{fv / rv:,.0f}x", ha="center")
        ax.set_yscale("log")
        ax.set_ylim(top=max(forward_values) * 10)
        ax.set_xticks(positions, labels)
        ax.set_title(f"gradient of an MLP cost, P = {P} parameters")
        ax.legend(loc="upper right")
        plt.show()
        """),
        md(r"""
        ## Sparse Jacobians: colouring saves sweeps

        A forward sweep seeded with `e_j + e_k` returns column `j` plus column `k`. If those two
        columns have no nonzero row in common, every entry of the result belongs to exactly one of
        them, so one sweep recovers both. Colour the columns so that no two of a colour share a
        row (Curtis–Powell–Reid); the Jacobian then takes one sweep per colour.
        `jacfwd(f, sparse=True)` finds the pattern from the recorded graph (no derivative is
        computed), colours it greedily and seeds one sweep per colour.

        Three maps on `n = 24` inputs:

        * elementwise, `sigmoid(x) ⊙ x`: a diagonal Jacobian, **1** colour;
        * tridiagonal, `tanh(T x)`: **3** colours;
        * a softmax over each column of a `(4, 6)` batch (examples are columns, the inputs laid out
          example after example): a block-diagonal Jacobian, each `4 × 4` block the dense
          `diag(a) - a aᵀ` of one example: **4** colours, however many examples.
        """),
        code("""
        n = 24
        T = sum(np.diag(rng.standard_normal(n - abs(k)), k) for k in (-1, 0, 1))
        maps = {
            "elementwise: sigmoid(x) ⊙ x": lambda x: nn.sigmoid(x) * x,
            "tridiagonal: tanh(T x)": lambda x: nn.tanh(T @ x),
            # x holds 6 examples of 4 entries each, example after example; softmax runs per column.
            "softmax of each column of a (4, 6) batch": lambda x: nn.softmax(x.reshape(6, 4).T).T.reshape(n),
        }
        x_sparse = rng.standard_normal(n)

        fig, axes = plt.subplots(1, 3, figsize=(13, 4.4))
        counted = {}
        for ax, (title, g) in zip(axes, maps.items()):
            pattern = jacobian_pattern(g, x_sparse)
            colours = colour_columns(pattern)
            with count() as dense_count:
                J_dense = jacfwd(g)(x_sparse)
            with count() as sparse_count:
                J_sparse = jacfwd(g, sparse=True)(x_sparse)
            assert np.allclose(J_dense, J_sparse) and np.allclose(J_sparse, jacrev(g)(x_sparse))
            counted[title] = (dense_count.forward_sweeps, sparse_count.forward_sweeps)
            picture = np.where(pattern, colours[None, :] + 1, 0)
            ax.imshow(np.ma.masked_equal(picture, 0), cmap="tab10", vmin=0.5, vmax=10.5)
            sweeps = sparse_count.forward_sweeps
            summary = f"colours: {colours.max() + 1} → forward sweeps: {sweeps} (not {n})"
            ax.set_title(f"{title}\\n{summary}", fontsize=9)
            ax.set_xlabel("input j (coloured by its colour)")
            ax.set_ylabel("output i")
        plt.tight_layout()
        plt.show()
        for title, (dense_sweeps, sparse_sweeps) in counted.items():
            print(f"{title:<42} forward sweeps: {dense_sweeps:>3} dense, {sparse_sweeps} coloured")
        """),
        md(r"""
        Colouring is no help for a cost. Its Jacobian is a single row, and every parameter that
        influences the cost has a nonzero there, so no two such columns can share a colour. Only
        columns that cannot affect the cost at all (weights multiplying pixels that are 0 in every
        example) get merged. A wide Jacobian is reverse mode's job.
        """),
        code("""
        with count() as sparse_count:
            jacfwd(cost, all_params, sparse=True)(*params)
        always_zero_pixels = int((X == 0).all(axis=1).sum())
        print(f"MLP cost: {P} dense forward sweeps, {sparse_count.forward_sweeps} coloured, 1 reverse")
        print(f"({always_zero_pixels} pixels are 0 in all {X.shape[1]} examples: "
              f"the {always_zero_pixels} x 16 weights on them cannot move the cost)")
        """),
    ]


# ---------------------------------------------------------------------------------------------
# 4. Training a network
# ---------------------------------------------------------------------------------------------


def training() -> list:
    return [
        md(r"""
        # 4. Training a network

        Two small problems, trained for a few seconds each: the 8×8 handwritten digits (ten
        classes, a softmax output) and two interleaving moons in the plane (two classes, a sigmoid
        output). Then the engine's gradients are compared with the closed-form backpropagation
        formulas of docs/maths.md.

        Notation: examples are **columns**. `A[0] = X` is `(n[0], m)`;
        `Z[l] = W[l] A[l-1] + b[l]`, `A[l] = g[l](Z[l])`; the network outputs the logits `Z[L]`
        and the cost takes them directly (`softmax_cross_entropy`,
        `binary_cross_entropy_with_logits`), which is stable where `log(softmax(Z))` is not.
        """),
        code("""
        %matplotlib inline
        import time

        import matplotlib.pyplot as plt
        import numpy as np

        import nn
        from autograd import no_grad

        X_train, Y_train, X_test, Y_test = nn.data.load_digits()
        print("X_train", X_train.shape, X_train.dtype, "  Y_train", Y_train.shape, "  X_test", X_test.shape)

        fig, axes = plt.subplots(2, 10, figsize=(10, 2.3))
        for k, ax in enumerate(axes.flat):
            ax.imshow(X_train[:, k].reshape(8, 8), cmap="gray_r")
            ax.set_title(int(Y_train[:, k].argmax()), fontsize=9)
            ax.axis("off")
        plt.suptitle("the first 20 training columns, each reshaped to 8 × 8")
        plt.show()
        """),
        md(r"""
        ## Digits: a `64 → 32 → 10` ReLU network

        $$Z^{[1]} = W^{[1]} X + b^{[1]},\quad A^{[1]} = \max(0, Z^{[1]}),\quad
          Z^{[2]} = W^{[2]} A^{[1]} + b^{[2]},\quad
          J = -\frac{1}{m}\sum Y \odot \log \operatorname{softmax}(Z^{[2]})$$

        A training step: forget the old gradients, run the network on a mini-batch of columns,
        `backward()` from the cost, let the optimizer update the parameters. Adam, 12 epochs of
        mini-batches of 64 columns, all in float32.
        """),
        code("""
        model = nn.Sequential(nn.Linear(64, 32, rng=0), nn.ReLU(), nn.Linear(32, 10, rng=1))
        optimizer = nn.optim.Adam(model.parameters(), lr=3e-3)
        batches = nn.data.Batches(X_train, Y_train, batch_size=64, seed=0)
        W1_initial = model[0].W.data.copy()


        def accuracy(Z, Y):
            return float(np.mean(Z.argmax(axis=0) == Y.argmax(axis=0)))


        def evaluate(model, X, Y):
            with no_grad():  # nothing to differentiate: record no graph
                Z = model(X)
                return nn.softmax_cross_entropy(Z, Y).item(), accuracy(Z.data, Y)


        step_losses, epochs = [], []
        start = time.perf_counter()
        for _ in range(12):
            for X, Y in batches:
                optimizer.zero_grad()
                J = nn.softmax_cross_entropy(model(X), Y)
                J.backward()
                optimizer.step()
                step_losses.append(J.item())
            train_metrics, test_metrics = evaluate(model, X_train, Y_train), evaluate(model, X_test, Y_test)
            epochs.append((len(step_losses), *train_metrics, *test_metrics))
        seconds = time.perf_counter() - start

        _, train_loss, train_acc, test_loss, test_acc = epochs[-1]
        print(f"{len(step_losses)} steps in {seconds:.1f} s; parameters: {model[0].W.dtype}")
        print(f"train: cost {train_loss:.3f}, accuracy {train_acc:.1%}")
        print(f"test:  cost {test_loss:.3f}, accuracy {test_acc:.1%}")
        """),
        code("""
        steps, train_costs, train_accs, test_costs, test_accs = map(np.array, zip(*epochs))
        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6))
        left.plot(np.arange(1, len(step_losses) + 1), step_losses, lw=0.7, alpha=0.5, label="mini-batch")
        left.plot(steps, train_costs, "o-", ms=3, label="training set")
        left.plot(steps, test_costs, "s-", ms=3, label="test set")
        left.set_yscale("log")
        left.set_xlabel("step")
        left.set_ylabel("cost J")
        left.legend()
        left.grid(alpha=0.3, which="both")
        right.plot(np.arange(1, len(epochs) + 1), train_accs, "o-", ms=3, label="training set")
        right.plot(np.arange(1, len(epochs) + 1), test_accs, "s-", ms=3, label="test set")
        right.set_xlabel("epoch")
        right.set_ylabel("accuracy")
        right.legend()
        right.grid(alpha=0.3)
        plt.suptitle("digits, 64 → 32 → 10, Adam")
        plt.tight_layout()
        plt.show()
        """),
        md(r"""
        ## The learned first-layer weights, as images

        Hidden unit `k` computes `Z[1]ₖ = W[1]ₖ,: · x + b[1]ₖ`: row `k` of `W[1]` is a template with
        one weight per pixel, and the unit responds most to images that look like it. Top: 16 rows
        of the trained `W[1]`, each reshaped to 8 × 8 (red positive, blue negative, each on its own
        scale). Bottom: what training changed, `W[1]` minus its initial value. The start was random
        noise (He initialisation); the changes are smoother, regions of pixels where digits
        differ. A unit whose change is negative almost everywhere has been switched off for most
        images (its ReLU stays at 0).
        """),
        code("""
        W1 = model[0].W.data  # (32, 64): one row per hidden unit, one column per pixel
        fig, axes = plt.subplots(2, 16, figsize=(13, 2.4))
        for k in range(16):
            for ax, weights in zip(axes[:, k], (W1[k], W1[k] - W1_initial[k])):
                limit = np.abs(weights).max()
                ax.imshow(weights.reshape(8, 8), cmap="RdBu_r", vmin=-limit, vmax=limit)
                ax.set_xticks([])
                ax.set_yticks([])
            axes[0, k].set_title(f"unit {k}", fontsize=8)
        axes[0, 0].set_ylabel("W[1]", fontsize=8)
        axes[1, 0].set_ylabel("change", fontsize=8)
        plt.suptitle("rows of W[1], one per hidden unit, as 8 × 8 images", y=1.04)
        plt.show()
        """),
        md(r"""
        The same job at full size is one command, `python -m nn.train` (a `64 → 128 → 64 → 10`
        network for 40 epochs, with a progress bar, writing `metrics.json`, the graph and the loss
        curve). Its `train` function can be called directly; here with a short configuration.
        """),
        code("""
        from nn.train import Config, train

        result = train(Config(hidden=(32,), epochs=4, lr=3e-3, seed=1))
        print(f"nn.train: {result.metrics['sizes']}, test accuracy {result.metrics['test_accuracy']:.1%}")
        """),
        md(r"""
        ## Two moons and the decision boundary

        Two classes in the plane, `X` `(2, m)` and `Y` `(1, m)` of 0/1 labels. A `2 → 16 → 16 → 1`
        tanh network outputs one logit per point; the cost is the binary cross-entropy of
        `σ(Z[3])`, computed from the logit. Full-batch Adam for 300 steps.
        """),
        code("""
        Xm_train, Ym_train, Xm_test, Ym_test = nn.data.load_moons(m=600, noise=0.15)
        moons = nn.Sequential(
            nn.Linear(2, 16, init="xavier", rng=0), nn.Tanh(),
            nn.Linear(16, 16, init="xavier", rng=1), nn.Tanh(),
            nn.Linear(16, 1, init="xavier", rng=2),
        )
        optimizer = nn.optim.Adam(moons.parameters(), lr=0.02)
        moon_losses = []
        for _ in range(300):
            optimizer.zero_grad()
            J = nn.binary_cross_entropy_with_logits(moons(Xm_train), Ym_train)
            J.backward()
            optimizer.step()
            moon_losses.append(J.item())

        with no_grad():
            test_accuracy = np.mean((moons(Xm_test).data >= 0) == (Ym_test == 1))
        print(f"cost {moon_losses[0]:.3f} -> {moon_losses[-1]:.3f}; test accuracy {test_accuracy:.1%}")
        """),
        code("""
        # The network's probability σ(Z[3]) over a grid of points, all evaluated as one batch of columns.
        u, v = np.meshgrid(np.linspace(-1.6, 2.6, 200), np.linspace(-1.2, 1.7, 160))
        grid = np.stack([u.ravel(), v.ravel()]).astype(np.float32)  # (2, 32000)
        with no_grad():
            probability = nn.sigmoid(moons(grid)).data.reshape(u.shape)

        fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [1.6, 1]})
        filled = left.contourf(u, v, probability, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.75)
        left.contour(u, v, probability, levels=[0.5], colors="k", linewidths=1.5)
        for label, colour in ((0, "tab:blue"), (1, "tab:red")):
            points = Xm_train[:, Ym_train[0] == label]
            left.scatter(*points, s=9, c=colour, edgecolors="w", linewidths=0.3, label=f"class {label}")
        left.set_title("decision boundary σ(Z[3]) = 0.5")
        left.legend(loc="upper right")
        fig.colorbar(filled, ax=left, label="σ(Z[3])")
        right.plot(moon_losses)
        right.set_yscale("log")
        right.set_xlabel("step")
        right.set_ylabel("cost J")
        right.set_title("two moons: training cost")
        right.grid(alpha=0.3, which="both")
        plt.tight_layout()
        plt.show()
        """),
        md(r"""
        ## The engine's gradients against the backpropagation formulas

        docs/maths.md derives reverse mode by hand for this kind of network. The seed: with a softmax
        output and the multiclass cost, or a sigmoid output and the binary cost,

        $$dZ^{[L]} = \frac{1}{m}\big(A^{[L]} - Y\big);$$

        then, layer by layer from `l = L` down to 1,

        $$dW^{[l]} = dZ^{[l]} A^{[l-1]\top},\quad db^{[l]} = \sum_{\text{axis }1} dZ^{[l]},\quad
          dA^{[l-1]} = W^{[l]\top} dZ^{[l]},\quad dZ^{[l-1]} = dA^{[l-1]} \odot g'^{[l-1]}(Z^{[l-1]})$$

        with `g' = I(Z > 0)` for ReLU and `g' = 1 - A ⊙ A` for tanh. Below, these formulas in
        plain NumPy (float64), against `backward()` through the engine's graph, for both trained
        networks: no rule is shared, only the mathematics.
        """),
        code("""
        # docs/maths.md's activations, with their derivatives written as g'(Z) in terms of Z and A = g(Z).
        HIDDEN = {
            "relu": (lambda Z: np.maximum(Z, 0), lambda Z, A: (Z > 0).astype(Z.dtype)),
            "tanh": (np.tanh, lambda Z, A: 1 - A * A),
        }


        def softmax(Z):
            E = np.exp(Z - Z.max(axis=0, keepdims=True))
            return E / E.sum(axis=0, keepdims=True)


        def sigmoid(Z):
            return 1 / (1 + np.exp(-Z))


        def closed_form_gradients(Ws, bs, X, Y, hidden, output):
            \"""docs/maths.md's backpropagation in NumPy: [(dW[1], db[1]), ..., (dW[L], db[L])].\"""
            g, g_prime = HIDDEN[hidden]
            m, L = X.shape[1], len(Ws)
            Z, A = [None], [X]  # Z[l], A[l] for l = 0..L
            for l in range(1, L + 1):
                Z.append(Ws[l - 1] @ A[l - 1] + bs[l - 1])
                A.append(output(Z[l]) if l == L else g(Z[l]))
            dZ = (A[L] - Y) / m
            grads = [None] * L
            for l in range(L, 0, -1):
                grads[l - 1] = (dZ @ A[l - 1].T, dZ.sum(axis=1, keepdims=True))
                if l > 1:
                    dA = Ws[l - 1].T @ dZ
                    dZ = dA * g_prime(Z[l - 1], A[l - 1])
            return grads


        def engine_gradients(model, cost, X, Y):
            \"""backward() through the engine, on a float64 copy of the trained model.\"""
            copy = nn.Sequential(*[
                nn.Linear(layer.n_in, layer.n_out, dtype=np.float64) if isinstance(layer, nn.Linear)
                else type(layer)()
                for layer in model
            ])
            copy.load_state_dict(model.state_dict())
            cost(copy(X), Y).backward()
            linear = [layer for layer in copy if isinstance(layer, nn.Linear)]
            Ws, bs = [layer.W.data for layer in linear], [layer.b.data for layer in linear]
            return Ws, bs, [(layer.W.grad, layer.b.grad) for layer in linear]


        checks = {
            "digits (ReLU, softmax)": (model, nn.softmax_cross_entropy, X_test[:, :128], Y_test[:, :128],
                                       "relu", softmax),
            "moons (tanh, sigmoid)": (moons, nn.binary_cross_entropy_with_logits, Xm_test, Ym_test,
                                      "tanh", sigmoid),
        }
        pairs = {}
        for name, (net, cost, X, Y, hidden, output) in checks.items():
            X, Y = X.astype(np.float64), Y.astype(np.float64)
            Ws, bs, engine = engine_gradients(net, cost, X, Y)
            closed = closed_form_gradients(Ws, bs, X, Y, hidden, output)
            pairs[name] = (engine, closed)
            for l, ((dW, db), (dW_cf, db_cf)) in enumerate(zip(engine, closed), start=1):
                error = max(np.abs(dW - dW_cf).max() / np.abs(dW_cf).max(),
                            np.abs(db - db_cf).max() / np.abs(db_cf).max())
                shapes = f"dW{dW.shape}, db{db.shape}"
                print(f"{name:<24} layer {l}: {shapes:<24} max relative difference {error:.1e}")
                assert error < 1e-10
        """),
        code("""
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
        for ax, (name, (engine, closed)) in zip(axes, pairs.items()):
            for l, ((dW, db), (dW_cf, db_cf)) in enumerate(zip(engine, closed), start=1):
                ax.scatter(dW_cf.ravel(), dW.ravel(), s=6, label=f"dW[{l}]")
                ax.scatter(db_cf.ravel(), db.ravel(), s=14, marker="x", label=f"db[{l}]")
            ends = np.array(ax.get_xlim())
            ax.plot(ends, ends, "k-", lw=0.6)
            ax.set_xlabel("closed form (docs/maths.md), NumPy")
            ax.set_ylabel("engine, backward()")
            ax.set_title(name)
            ax.legend(fontsize=7, ncol=2)
        plt.suptitle("every gradient entry: the engine against the backpropagation formulas")
        plt.tight_layout()
        plt.show()
        """),
        md(r"""
        The `1/m` sits in the cost, so every gradient downstream carries it: the gradient of a
        batch is the **mean** of the gradients of its columns, and it does not grow with `m`.
        """),
        code("""
        def gradient_W1(X, Y):
            model.zero_grad()
            nn.softmax_cross_entropy(model(X), Y).backward()
            return model[0].W.grad.astype(np.float64)


        X8, Y8 = X_train[:, :8], Y_train[:, :8]
        batch = gradient_W1(X8, Y8)
        mean_of_columns = np.mean([gradient_W1(X8[:, [k]], Y8[:, [k]]) for k in range(8)], axis=0)
        ten_copies = gradient_W1(np.tile(X8, 10), np.tile(Y8, 10))  # m = 80, the same 8 examples
        scale = np.abs(batch).max()  # float32 arithmetic: agreement to ~1e-7 is exact
        for label, other in (("the mean of its 8 single-column gradients", mean_of_columns),
                             ("the same 8 columns repeated 10 times (m = 80)", ten_copies)):
            print(f"batch of 8 vs {label}: relative difference {np.abs(batch - other).max() / scale:.1e}")
        """),
    ]


NOTEBOOKS = {
    "01_operator_overloading.ipynb": operator_overloading,
    "02_rendering_graphs.ipynb": rendering_graphs,
    "03_forward_vs_reverse.ipynb": forward_vs_reverse,
    "04_training.ipynb": training,
}


def build(names: list[str] | None = None) -> None:
    for filename, cells in NOTEBOOKS.items():
        if names and not any(name in filename for name in names):
            continue
        notebook = new_notebook(cells=cells())
        for number, cell in enumerate(notebook.cells):
            cell.id = f"{filename[:2]}-{number:02d}"  # stable ids keep the files diff-friendly
        notebook.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        notebook.metadata["language_info"] = {"name": "python"}
        nbformat.validate(notebook)
        nbformat.write(notebook, HERE / filename)
        print("wrote", HERE / filename)


if __name__ == "__main__":
    build(sys.argv[1:])
