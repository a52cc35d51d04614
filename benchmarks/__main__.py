"""``python -m benchmarks``: run every benchmark, print the tables, update README.md.

    python -m benchmarks                 # everything (a few minutes); rewrites the results
    python -m benchmarks --quick         # fewer rounds, for a smoke run; writes nothing
    python -m benchmarks --only mlp,overhead --no-write

Writes the results section of ``benchmarks/README.md``, ``benchmarks/results/results.json``,
the plot ``benchmarks/results/mlp_ratios.png`` and the headline block ``/tmp/bench_headline.md``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

from . import threads  # noqa: F401  (first: one BLAS thread before NumPy loads)

threads.limit_blas_threads()

from . import hips, hvp, machine, memory, mlp, modes, overhead, report, tapes  # noqa: E402

HERE = Path(__file__).parent
README = HERE / "README.md"
RESULTS = HERE / "results"
HEADLINE = Path("/tmp/bench_headline.md")
BENCHMARKS = ("mlp", "overhead", "cheap", "memory", "modes", "hvp", "tapes")
START, END = "<!-- results:start -->", "<!-- results:end -->"


def _merge_hips(row: dict, answer: dict | None, key_seconds="seconds") -> None:
    if answer is None:
        return
    row["seconds"]["HIPS autograd"] = answer[key_seconds]
    if "ratio" in row and "ratio" in answer:
        row["ratio"]["HIPS autograd"] = answer["ratio"]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few rounds, write nothing")
    parser.add_argument(
        "--only", default=",".join(BENCHMARKS), help=f"comma-separated subset of {BENCHMARKS}"
    )
    parser.add_argument("--rounds", type=int, default=21, help="interleaved rounds per benchmark")
    parser.add_argument("--no-write", action="store_true", help="print only; leave README and results alone")
    args = parser.parse_args(argv)
    chosen = set(args.only.split(","))
    rounds = 5 if args.quick else args.rounds
    target = 0.03 if args.quick else 0.1
    write = not (args.quick or args.no_write)
    notes: list[str] = []
    results: dict = {"machine": machine.describe()}
    started = time.perf_counter()

    def say(text):
        print(text, file=sys.stderr, flush=True)

    if "mlp" in chosen:
        results["steps"] = []
        for size in ("small", "medium", "large"):
            say(f"MLP step, {size} ...")
            row = mlp.run_steps(size, rounds if size != "large" else max(5, rounds // 2), target, notes)
            _merge_hips(row, hips.call(notes, command="mlp", size=size, rounds=rounds, target_seconds=target))
            results["steps"].append(row)
    if "overhead" in chosen:
        results["chains"] = []
        for n_ops, r in ((1000, rounds), (200_000, 3 if args.quick else 5)):
            say(f"chain of {n_ops:,} ops ...")
            row = overhead.run_chain(n_ops, r, target, notes)
            answer = hips.call(notes, command="chain", n_ops=n_ops, rounds=r, target_seconds=target)
            if answer is not None:
                row["seconds"]["HIPS autograd"] = answer["seconds"]
                row["us_per_op"]["HIPS autograd"] = answer["us_per_op"]
            results["chains"].append(row)
        say("chain growth (short and long chains in the same rounds, in a fresh interpreter) ...")
        growth_rounds = 3 if args.quick else 7
        results["chain_growth"] = overhead.run_chain_growth_fresh(1000, 200_000, growth_rounds)
        say("chain growth in this process ...")
        here = overhead.run_chain_growth(1000, 200_000, growth_rounds)
        results["chain_growth"]["ratio_this_process"] = here["ratio"]
    if "cheap" in chosen:
        say("cheap-gradient ratio ...")
        cheap = mlp.run_cheap_gradient("medium", rounds, target, notes)
        answer = hips.call(notes, command="cheap", size="medium", rounds=rounds, target_seconds=target)
        if answer is not None:
            for key in ("forward", "forward_backward", "ratio"):
                cheap[key]["HIPS autograd"] = answer[key]
        results["cheap"] = cheap
    if "memory" in chosen:
        say("backward peak memory ...")
        results["memory"] = memory.run(notes)
        answer = hips.call(notes, command="memory")
        if answer is not None:
            results["memory"]["tracemalloc"]["HIPS autograd"] = answer["tracemalloc_peak"] / memory.MIB
    if "modes" in chosen:
        say("forward vs reverse ...")
        results["modes"] = modes.run(max(3, rounds // 3), target, notes)
    if "hvp" in chosen:
        say("Hessian-vector products ...")
        results["hvp"] = hvp.run(max(5, rounds // 2), target, notes)
    if "tapes" in chosen:
        say("Jacobians replayed on tapes ...")
        results["tapes"] = tapes.run(max(5, rounds // 2), target, notes)
    results["notes"] = notes
    results["machine"]["threads"] = threads.report()
    results["elapsed_minutes"] = (time.perf_counter() - started) / 60

    command = "python -m benchmarks" + ("" if chosen == set(BENCHMARKS) else f" --only {args.only}")
    plot_path = report.plot(results, RESULTS / "mlp_ratios.png") if write else None
    text = report.results_markdown(results, command, "results/mlp_ratios.png" if plot_path else None)
    if results.get("tapes"):
        text += tapes.section(results["tapes"])
    print(text)
    if write:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "results.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
        readme = README.read_text() if README.exists() else f"{START}\n{END}\n"
        readme = re.sub(
            re.escape(START) + ".*?" + re.escape(END), lambda _: f"{START}\n{text}{END}", readme, flags=re.S
        )
        README.write_text(readme)
        HEADLINE.write_text(report.headline(results, command))
    return results


if __name__ == "__main__":
    main()
