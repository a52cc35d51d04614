"""Turn the measurements into Markdown tables, one plot, and the headline block."""

from __future__ import annotations

from pathlib import Path

PEERS = (
    "vecgrad primitives",
    "vecgrad fused",
    "vecgrad nn",
    "vecgrad compiled",
    "vecgrad nn compiled",
    "vecgrad",
    "PyTorch eager",
    "torch.compile",
    "HIPS autograd",
    "JAX jit",
    "micrograd",
)
#: The engine for the goals: autograd with its fused primitives (else the core ones). The nn
#: package adds its own work on top (argument and target validation, module scopes) and is
#: reported beside it.
ENGINE = ("vecgrad fused", "vecgrad primitives")
NN = "vecgrad nn"
COMPILED, NN_COMPILED = "vecgrad compiled", "vecgrad nn compiled"

#: The compiled step's goals (``autograd.compile``), by size: faster than the hand-written step.
COMPILED_TARGETS = (("small", 1.0), ("medium", 0.97), ("large", 1.0))
#: The 200,000-op chain's cost per op, as a multiple of the 1,000-op chain's.
CHAIN_GROWTH_TARGET = 1.3


def _engine(ratios: dict) -> str | None:
    return next((name for name in ENGINE if name in ratios), None)


MIB_TARGET = 19.0

#: The goals, as (label, key in the headline values, limit); lower is better for all.
TARGETS = (
    ("small MLP step, ratio to NumPy by hand", "small", 2.0),
    ("medium MLP step, ratio to NumPy by hand", "medium", 1.10),
    ("large MLP step, ratio to NumPy by hand", "large", 1.03),
    ("per-op overhead fwd+bwd, 1,000-op chain (µs/op)", "per_op_us", 4.0),
    ("200,000-op chain fwd+bwd (s)", "chain_200k_s", 1.5),
    ("(fwd+bwd)/fwd, medium MLP", "cheap_gradient", 2.5),
    ("backward peak memory, (2048,2048)@(2048,128) float32 (MiB, tracemalloc)", "memory_mib", MIB_TARGET),
    ("Hessian-vector product (fwd-over-rev) over gradient, medium MLP", "hvp_gradients", 4.0),
)


def _fmt_ratio(value: float | None, extrapolated: bool = False) -> str:
    if value is None:
        return "—"
    text = f"{value:,.0f}×" if value >= 100 else f"{value:.2f}×"
    return text + " (extrapolated)" if extrapolated else text


def _seconds(s: float) -> str:
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} µs"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def mlp_table(steps: list[dict]) -> str:
    present = [p for p in PEERS if any(p in r["ratio"] for r in steps)]
    header = ["workload", "NumPy by hand (median)"] + present
    rows = []
    for r in steps:
        row = [r["workload"], _seconds(r["seconds"]["NumPy by hand"])]
        for p in present:
            row.append(_fmt_ratio(r["ratio"].get(p), p in r.get("extrapolated", [])))
        rows.append(row)
    return _table(header, rows)


def chain_table(chains: list[dict]) -> str:
    present = ["NumPy by hand"] + [p for p in PEERS if any(p in r["seconds"] for r in chains)]
    header = ["workload"] + present
    rows = []
    for r in chains:
        rows.append(
            [r["workload"]]
            + [
                f"{r['us_per_op'][p]:.2f} µs/op ({_seconds(r['seconds'][p])})" if p in r["seconds"] else "—"
                for p in present
            ]
        )
    return _table(header, rows)


def growth_text(growth: dict) -> str:
    """Where the long chain's extra per-op cost goes: the cycle collector, and the process."""
    text = (
        f"Per-op cost of the {growth['n_large']:,}-op chain over the {growth['n_small']:,}-op one, "
        f"short and long chains in the same rounds: **{growth['ratio']:.2f}** in a fresh interpreter "
        f"(vecgrad and NumPy only), {growth['ratio_collector_off']:.2f} there with Python's cycle "
        "collector off"
    )
    if "ratio_this_process" in growth:
        text += (
            f", {growth['ratio_this_process']:.2f} in this process (PyTorch and JAX imported: the "
            "collector's full passes traverse their objects too)"
        )
    return text + "."


def cheap_table(cheap: dict) -> str:
    header = ["contender", "forward", "forward + backward", "(fwd+bwd)/fwd"]
    rows = [
        [
            name,
            _seconds(cheap["forward"][name]),
            _seconds(cheap["forward_backward"][name]),
            f"{cheap['ratio'][name]:.2f}",
        ]
        for name in cheap["ratio"]
    ]
    return _table(header, rows)


def modes_table(modes: dict) -> str:
    header = ["(n, m)", "closed form (NumPy)", "jacfwd (n sweeps)", "jacrev (m sweeps)", "jacfwd / jacrev"]
    rows = [
        [
            f"({r['n']}, {r['m']})",
            _seconds(r["closed form (NumPy)"]),
            _seconds(r["jacfwd"]),
            _seconds(r["jacrev"]),
            f"{r['fwd/rev']:.3g}",
        ]
        for r in modes["rows"]
    ]
    return _table(header, rows)


def memory_table(memory: dict) -> str:
    names = list(dict.fromkeys(list(memory["tracemalloc"]) + list(memory["rss"])))
    header = ["contender", "tracemalloc peak during backward", "peak resident set rise"]
    rows = [
        [
            n,
            f"{memory['tracemalloc'][n]:.1f} MiB" if n in memory["tracemalloc"] else "— (not visible)",
            f"{memory['rss'][n]:.1f} MiB" if n in memory["rss"] else "—",
        ]
        for n in names
    ]
    return _table(header, rows)


def hvp_table(result: dict) -> str:
    from .hvp import table

    return table(result)


def headline_values(results: dict) -> dict:
    """The goals' numbers: ``key`` for the engine, ``key + "_nn"`` for nn, and which engine."""
    values = {}
    for r in results.get("steps", []):
        size = r["workload"].split()[0]
        engine = _engine(r["ratio"])
        values[size] = r["ratio"].get(engine)
        values[size + "_engine"] = engine
        values[size + "_nn"] = r["ratio"].get(NN)
        values[size + "_torch"] = r["ratio"].get("PyTorch eager")
        values[size + "_compiled"] = r["ratio"].get(COMPILED)
        values[size + "_compiled_nn"] = r["ratio"].get(NN_COMPILED)
    for r in results.get("chains", []):
        if r["n_ops"] == 1000:
            values["per_op_us"] = r["us_per_op"].get("vecgrad")
        if r["n_ops"] == 200_000:
            values["chain_200k_s"] = r["seconds"].get("vecgrad")
            values["chain_200k_us"] = r["us_per_op"].get("vecgrad")
    if results.get("chain_growth"):
        values["chain_growth"] = results["chain_growth"]["ratio"]
    if results.get("cheap"):
        engine = _engine(results["cheap"]["ratio"])
        values["cheap_gradient"] = results["cheap"]["ratio"].get(engine)
        values["cheap_gradient_engine"] = engine
        values["cheap_gradient_nn"] = results["cheap"]["ratio"].get(NN)
    if results.get("memory"):
        values["memory_mib"] = results["memory"]["tracemalloc"].get("vecgrad")
    if results.get("hvp"):
        values["hvp_gradients"] = results["hvp"]["ratio"].get("fwd-over-rev")
    return values


def _verdict(value: float | None, met: bool) -> str:
    if value is None:
        return "—"
    return f"{value:.3g} ({'met' if met else 'missed'})"


def targets_table(results: dict) -> str:
    values = headline_values(results)
    rows = []
    for label, key, limit in TARGETS:
        v, nn = values.get(key), values.get(key + "_nn")
        engine = values.get(key + "_engine")
        if engine:
            label = f"{label} [{engine}]"
        rows.append(
            [
                label,
                _verdict(v, v is not None and v <= limit),
                _verdict(nn, nn is not None and nn <= limit),
                f"≤ {limit:g}",
            ]
        )
    for size, limit in COMPILED_TARGETS:
        ours, nn = values.get(size + "_compiled"), values.get(size + "_compiled_nn")
        if ours is None and nn is None:
            continue
        rows.append(
            [
                f"{size} MLP step compiled (autograd.compile), ratio to NumPy by hand",
                _verdict(ours, ours is not None and ours <= limit),
                _verdict(nn, nn is not None and nn <= limit),
                f"≤ {limit:g}",
            ]
        )
    growth = values.get("chain_growth")
    if growth is not None:
        rows.append(
            [
                "per-op cost, 200,000-op chain / 1,000-op chain (same rounds, fresh interpreter)",
                _verdict(growth, growth <= CHAIN_GROWTH_TARGET),
                "—",
                f"≤ {CHAIN_GROWTH_TARGET:g}",
            ]
        )
    for size in ("small", "medium"):
        torch = values.get(size + "_torch")
        if torch is None:
            continue
        ours, nn = values.get(size), values.get(size + "_nn")
        rows.append(
            [
                f"{size} MLP step faster than PyTorch eager ({torch:.2f}×)",
                _verdict(ours, ours is not None and ours < torch),
                _verdict(nn, nn is not None and nn < torch),
                "below PyTorch",
            ]
        )
    return _table(["goal", "autograd", "nn", "target"], rows)


def headline(results: dict, command: str) -> str:
    values = headline_values(results)
    parts = []
    for size in ("small", "medium", "large"):
        if values.get(size) is not None:
            torch = values.get(size + "_torch")
            vs = f" (PyTorch eager {torch:.2f}×)" if torch is not None else ""
            nn = values.get(size + "_nn")
            with_nn = f", {nn:.2f}× through `nn`" if nn is not None else ""
            parts.append(
                f"- {size} MLP training step: **{values[size]:.2f}×** the hand-written NumPy step"
                f" with autograd's fused ops{with_nn}{vs}"
            )
    compiled = [
        f"{size} **{values[size + '_compiled']:.2f}×**"
        for size in ("small", "medium", "large")
        if values.get(size + "_compiled") is not None
    ]
    if compiled:
        parts.append(
            "- compiled with `autograd.compile` (recorded once, replayed as NumPy kernels, same "
            f"numbers as eager): {', '.join(compiled)} the hand-written NumPy step"
        )
    if values.get("per_op_us") is not None:
        parts.append(
            f"- engine overhead: **{values['per_op_us']:.1f} µs per op**, forward + backward, on tiny arrays"
        )
    if values.get("chain_200k_s") is not None:
        parts.append(f"- a 200,000-op chain, forward + backward: **{values['chain_200k_s']:.2f} s**")
    if values.get("cheap_gradient") is not None:
        parts.append(
            f"- gradient cost: (forward + backward) / forward = **{values['cheap_gradient']:.2f}**"
            " on the medium MLP"
        )
    if values.get("memory_mib") is not None:
        parts.append(
            f"- backward of a (2048,2048)@(2048,128) matmul peaks at **{values['memory_mib']:.1f} MiB** "
            "(the gradients alone take 17 MiB)"
        )
    machine = results["machine"]
    parts.append(
        f"\nMedians on a {machine['nproc']}-core {machine['cpu']} machine (the run pinned to one core, "
        "one BLAS thread), float32, each ratio measured in one process; "
        f"`{command}` regenerates them (benchmarks/README.md)."
    )
    return "\n".join(parts) + "\n"


def plot(results: dict, path: Path) -> Path | None:
    steps = results.get("steps")
    if not steps:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # micrograd (about 10^5 times the baseline) would flatten every other bar: it stays in the
    # table only.
    present = [p for p in PEERS if p != "micrograd" and any(p in r["ratio"] for r in steps)]
    fig, ax = plt.subplots(figsize=(9, 4.6))
    width = 0.84 / max(len(present), 1)
    for k, name in enumerate(present):
        xs, ys = [], []
        for i, r in enumerate(steps):
            if name in r["ratio"]:
                xs.append(i + (k - (len(present) - 1) / 2) * width)
                ys.append(r["ratio"][name])
        ax.bar(xs, ys, width, label=name)
        for x, y in zip(xs, ys):
            ax.text(x, y * 1.04, f"{y:.2f}", ha="center", va="bottom", fontsize=7, rotation=90)
    targets = {"small": 2.0, "medium": 1.10, "large": 1.03}
    for i, r in enumerate(steps):
        limit = targets[r["workload"].split()[0]]
        label = "target" if i == 0 else None
        ax.hlines(limit, i - 0.45, i + 0.45, colors="black", linestyles="dashed", linewidth=1, label=label)
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ax.set_yscale("log")
    top = max(y for r in steps for name, y in r["ratio"].items() if name in present)
    ax.set_ylim(0.3, top * 2.5)
    ax.set_xticks(range(len(steps)), [r["workload"] for r in steps])
    ax.set_ylabel("time / hand-written NumPy step (log scale)")
    ax.set_title("MLP training step, float32, one core (lower is better; micrograd ~10⁵×, off the chart)")
    ax.legend(fontsize=8, ncol=4, loc="upper right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def results_markdown(results: dict, command: str, plot_path: str | None) -> str:
    m = results["machine"]
    out = ["## Results", ""]
    out.append(f"Regenerate with `{command}` (about {results['elapsed_minutes']:.0f} minutes).")
    out.append("")
    out.append(
        f"Machine: nproc {m['nproc']}, {m['cpu']}; Python {m['python']}, NumPy {m['numpy']}, "
        f"BLAS {m['blas']}."
    )
    t = m["threads"]
    out.append(
        f"Threads: OMP/OPENBLAS/MKL_NUM_THREADS={t.get('OPENBLAS_NUM_THREADS')}; "
        f"BLAS pools: {'; '.join(t.get('blas_pools', []))}; "
        f"PyTorch: {t.get('torch_threads', 'not loaded')}; XLA_FLAGS=`{t.get('XLA_FLAGS')}`; "
        f"the whole process pinned to CPU {t.get('pinned_cpu')} (sched_setaffinity)."
    )
    versions = ", ".join(f"{k} {m[k]}" for k in ("torch", "jax", "micrograd") if m.get(k))
    out.append(f"Peers: {versions or 'none installed'}.")
    out.append("")
    out.append("### Goals")
    out.append(targets_table(results))
    if results.get("steps"):
        out += [
            "",
            "### 1. MLP training step (ratio to the hand-written NumPy step, same process)",
            mlp_table(results["steps"]),
        ]
        if plot_path:
            out += ["", f"![MLP step ratios]({plot_path})"]
    if results.get("chains"):
        out += [
            "",
            "### 2. Per-op overhead: chain of tiny elementwise ops, forward + backward",
            chain_table(results["chains"]),
        ]
    growth = results.get("chain_growth")
    if growth and "ratio_collector_off" in growth:
        out += ["", growth_text(growth)]
    if results.get("cheap"):
        out += ["", "### 3. Cheap-gradient ratio, medium MLP", cheap_table(results["cheap"])]
    if results.get("modes"):
        out += [
            "",
            "### 4. Forward vs reverse mode: full Jacobian of f: R^n → R^m",
            modes_table(results["modes"]),
        ]
    if results.get("memory"):
        out += [
            "",
            "### 6. Backward peak memory, (2048,2048)@(2048,128) float32",
            memory_table(results["memory"]),
        ]
    if results.get("hvp"):
        h = results["hvp"]
        out += [
            "",
            f"### 7. Hessian-vector product over gradient, medium MLP cost (n = {h['n']:,} parameters)",
            "Each route's time over one gradient's, median of paired rounds (goal: forward over "
            f"reverse ≤ {h['goal']:g}, Pearlmutter's small constant).",
            "",
            hvp_table(h),
        ]
    if results.get("notes"):
        out += ["", "### Notes from this run"] + [f"- {n}" for n in results["notes"]]
    return "\n".join(out) + "\n"
