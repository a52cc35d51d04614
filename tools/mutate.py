"""Mutation testing of the engine: ``python -m tools.mutate``.

For every mutant (a fault of :mod:`tools.mutants` in a primitive's VJP, JVP or forward, or one
of :mod:`tools.engine_mutants` in the engine's machinery) run the test suite in a fresh
interpreter with that one fault injected, stopping at the first failure, and count the mutant
*killed* when the suite fails. Prints a table and the kill rate, and with ``--report`` writes it
as Markdown; the exit status is 0 only when every mutant is killed.

    python -m tools.mutate                          # every mutant, 2 at a time
    python -m tools.mutate --report docs/mutation_report.md
    python -m tools.mutate --only exp,engine        # the mutants of some targets
    python -m tools.mutate --only engine:sweep_overwrites,exp:forward_scaled
    python -m tools.mutate --jobs 1 -- tests/test_properties.py   # another test selection

**Which tests run.** Every test module that could kill a mutant: all of ``tests/``, fastest
killers first (the core tests, forward mode, the transforms, the fused ops, the engine's own
fault tests), so that ``-x`` stops most runs within seconds, and the slow modules (properties,
pictures, memory) last. A mutant runs in two stages: the quick modules first, in an interpreter
that collects only them, and, if it survives them, every other module. Left out:
``tests/test_notebooks.py``, whose notebooks run in a Jupyter kernel, a separate process where
no fault is injected (so it can kill nothing), and the tests of this tool itself
(``TestMutantsAreCaught``), which inject faults of their own.
"""

from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tools.engine_mutants import ENGINE, ENGINE_TARGET, EQUIVALENT
from tools.mutant_plugin import ENV
from tools.mutants import all_mutants, faults_for

ROOT = Path(__file__).resolve().parent.parent

#: The test modules a mutant must fail, in the order they run: quick, focused killers first;
#: the last pattern adds every other test module (new ones included) before the slow ones.
DEFAULT_TESTS = (
    "tests/test_core_primitives.py",
    "tests/test_core_broadcasting.py",
    "tests/test_core_dtypes.py",
    "tests/test_core_tensor.py",
    "tests/test_core_errors.py",
    "tests/test_core_backward.py",
    "tests/test_forward_mode.py",
    "tests/test_functional.py",
    "tests/test_fused.py",
    "tests/test_engine_faults.py",
    "tests/test_higher_order.py",
    "tests/test_validation.py",
    "tests/test_*.py",
    "tests/test_properties.py",
    "tests/test_viz.py",
    "tests/test_memory.py",
)

#: The modules of the first run of each mutant: quick to collect and run, and between them they
#: exercise every primitive's rules in both modes, the transforms and the engine's machinery.
FIRST_STAGE = frozenset(DEFAULT_TESTS[:12])

#: Test modules that can kill no mutant: the notebooks run in a kernel of their own, where no
#: fault is injected.
EXCLUDED_TESTS = ("tests/test_notebooks.py",)

#: Tests of the mutation tool itself: they inject faults of their own, so they are left out.
DESELECTED = ("tests/test_reliability.py::TestMutantsAreCaught",)

# pytest's exit codes: 0 all passed, 1 some test failed; anything else means the run itself
# broke (interrupted, internal error, usage error, no tests), which proves nothing.
PASSED, FAILED = 0, 1


@dataclass(frozen=True)
class Outcome:
    primitive: str  # the target: a primitive's name, or "engine"
    fault: str
    verdict: str  # killed | survived | error
    seconds: float
    detail: str  # the first failing test (killed), else pytest's last words

    @property
    def killed(self) -> bool:
        return self.verdict == "killed"


def describe(target: str, fault: str) -> str:
    """What mutant ``target:fault`` gets wrong, in a sentence."""
    if target == ENGINE_TARGET:
        return ENGINE[fault].description
    return faults_for(target)[fault].description


def expand(patterns: list[str] | tuple[str, ...], excluded: tuple[str, ...] = ()) -> list[str]:
    """Test paths from glob patterns, relative to the repository root, each once, in order."""
    paths: list[str] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern, root_dir=ROOT))
        if not matches:
            raise SystemExit(f"mutate: no test file matches {pattern!r}")
        if any(ch in pattern for ch in "*?["):
            # A wildcard adds what no other pattern names, so explicit slow modules stay last.
            named = {p for p in patterns if not any(ch in p for ch in "*?[")}
            matches = [m for m in matches if m not in named]
        for path in matches:
            if path not in paths and path not in excluded:
                paths.append(path)
    return paths


def run_suite(
    tests: list[str], mutant: str | None, stop_at_first: bool = True
) -> subprocess.CompletedProcess:
    """Run pytest on ``tests`` in a fresh interpreter, with ``mutant`` ("name:fault") injected."""
    env = dict(os.environ)
    env.pop(ENV, None)
    if mutant:
        env[ENV] = mutant
    command = [sys.executable, "-m", "pytest", "-p", "tools.mutant_plugin", "-q", "-p", "no:cacheprovider"]
    for test in DESELECTED:
        if test.partition("::")[0] in tests:
            command += ["--deselect", test]
    if stop_at_first:
        command.append("-x")
    return subprocess.run(command + tests, cwd=ROOT, env=env, capture_output=True, text=True)


def stages(tests: list[str]) -> list[list[str]]:
    """``tests`` split in two runs: the quick killers of :data:`FIRST_STAGE` (when present), then
    the rest. Most mutants die in the first, which collects a quarter of the suite."""
    first = [t for t in tests if t in FIRST_STAGE]
    rest = [t for t in tests if t not in FIRST_STAGE]
    return [part for part in (first, rest) if part]


def run_mutant(primitive: str, fault: str, tests: list[str]) -> Outcome:
    """Run the suite against one mutant, stage by stage (:func:`stages`) until a test fails,
    and classify the result."""
    start = time.perf_counter()
    for part in stages(tests):
        result = run_suite(part, f"{primitive}:{fault}")
        if result.returncode != PASSED:
            break
    seconds = time.perf_counter() - start
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    if result.returncode == FAILED:
        failed = [line for line in lines if line.startswith("FAILED")]
        detail = failed[0].removeprefix("FAILED ") if failed else lines[-1] if lines else ""
        return Outcome(primitive, fault, "killed", seconds, detail)
    if result.returncode == PASSED:
        return Outcome(primitive, fault, "survived", seconds, lines[-1] if lines else "")
    tail = (result.stderr.strip().splitlines() or lines or [""])[-1]
    return Outcome(primitive, fault, "error", seconds, f"pytest exit code {result.returncode}: {tail}")


def _summary(outcomes: list[Outcome]) -> str:
    killed = sum(o.killed for o in outcomes)
    rate = 100.0 * killed / len(outcomes) if outcomes else 0.0
    return f"killed {killed}/{len(outcomes)} mutants: kill rate {rate:.1f}%"


def table(outcomes: list[Outcome]) -> str:
    """The report for the terminal: one row per mutant, then the kill rate."""
    width = max([len("target"), *(len(o.primitive) for o in outcomes)])
    fault_width = max([len("fault"), *(len(o.fault) for o in outcomes)])
    header = f"{'target':<{width}}  {'fault':<{fault_width}} {'result':<9} {'time':>6}  first failing test"
    rows = [header, "-" * len(header)]
    for o in outcomes:
        detail = o.detail if len(o.detail) <= 90 else o.detail[:87] + "..."
        rows.append(
            f"{o.primitive:<{width}}  {o.fault:<{fault_width}} {o.verdict:<9} {o.seconds:5.1f}s  {detail}"
        )
    rows.append("-" * len(header))
    rows.append(_summary(outcomes))
    return "\n".join(rows)


#: What a mutant changes, for the report's summary.
CATEGORIES = ("derivative rule (VJP/JVP)", "recording pass", "forward function", "JVP structure", "engine")


def category(o: Outcome) -> str:
    """Which part of the engine mutant ``o`` changes (one of :data:`CATEGORIES`)."""
    if o.primitive == ENGINE_TARGET:
        return "engine"
    if o.fault.startswith("forward"):
        return "forward function"
    if o.fault.startswith("jvp_") and o.fault != "jvp_scaled":
        return "JVP structure"
    if o.fault == "reads_raw":
        return "recording pass"
    return "derivative rule (VJP/JVP)"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(outcomes: list[Outcome], tests: list[str], wall_seconds: float, jobs: int) -> str:
    """The report as Markdown: how it was made, the kill rate, one row per mutant."""
    by_verdict = {v: sum(o.verdict == v for o in outcomes) for v in ("killed", "survived", "error")}
    lines = [
        "# Mutation report",
        "",
        "Generated by `python -m tools.mutate --report docs/mutation_report.md`: each mutant is one",
        "fault injected into the engine (a derivative rule, a forward function, the structure of a JVP",
        "rule, or the engine's machinery; `tools/mutants.py`, `tools/engine_mutants.py`), and the test",
        "suite is run against it in a fresh interpreter, stopping at the first failure. A mutant is",
        "*killed* when a test fails; the killing test is the first one that failed. Each mutant runs",
        "in two stages: the quick test modules first and, only if it survives them, all the others.",
        "",
        f"**{_summary(outcomes)}** ({by_verdict['survived']} survived, {by_verdict['error']} errors), "
        f"in {wall_seconds / 60:.1f} minutes of wall time with {jobs} jobs.",
        "",
        "Test modules run, in this order: " + ", ".join(f"`{Path(t).name}`" for t in tests) + ".",
        "Left out: "
        + ", ".join(f"`{t}`" for t in (*EXCLUDED_TESTS, *DESELECTED))
        + " (the notebooks run in a kernel of their own, where no fault is injected; the tool's own",
        "tests inject faults themselves).",
        "",
        "| what is mutated | mutants | killed |",
        "|---|---:|---:|",
        *(
            f"| {what} | {sum(1 for o in outcomes if category(o) == what)} "
            f"| {sum(1 for o in outcomes if category(o) == what and o.killed)} |"
            for what in CATEGORIES
        ),
        "",
        "| target | fault | what is wrong | verdict | time | first failing test |",
        "|---|---|---|---|---:|---|",
    ]
    for o in outcomes:
        lines.append(
            f"| {_cell(o.primitive)} | `{o.fault}` | {_cell(describe(o.primitive, o.fault))} | {o.verdict} "
            f"| {o.seconds:.1f}s | {_cell(o.detail)} |"
        )
    lines += ["", "## Equivalent mutants, left out", ""]
    lines += [f"- `{name}`: {reason}" for name, reason in EQUIVALENT.items()]
    return "\n".join(lines) + "\n"


def select(mutants: list[tuple[str, str]], only: str | None) -> list[tuple[str, str]]:
    """The mutants named by ``--only``: targets (``exp``, ``engine``) or ``target:fault`` specs."""
    if not only:
        return mutants
    wanted = set(only.split(","))
    known = {name for name, _ in mutants} | {f"{name}:{fault}" for name, fault in mutants}
    unknown = wanted - known
    if unknown:
        raise SystemExit(f"mutate: unknown targets or mutants {sorted(unknown)}")
    return [(name, fault) for name, fault in mutants if name in wanted or f"{name}:{fault}" in wanted]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.mutate", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        help="comma-separated targets (a primitive, or engine) or target:fault mutants (default: all)",
    )
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="mutants run at once")
    parser.add_argument("--report", type=Path, help="write the report as Markdown to this file")
    parser.add_argument("tests", nargs="*", default=list(DEFAULT_TESTS), help="test files or globs")
    args = parser.parse_args(argv)

    tests = expand(args.tests, EXCLUDED_TESTS)
    mutants = select(all_mutants(), args.only)
    for name, fault in mutants:
        describe(name, fault)  # a primitive without a structural fault fails here, loudly

    start = time.perf_counter()
    print(f"baseline: running {len(tests)} test modules without faults ...", flush=True)
    baseline = run_suite(tests, None, stop_at_first=False)
    if baseline.returncode != PASSED:
        print(baseline.stdout[-3000:], baseline.stderr[-3000:], sep="\n")
        print("mutate: the suite fails without any fault; fix it before mutation testing")
        return 2
    print(f"baseline: {baseline.stdout.strip().splitlines()[-1]}", flush=True)
    print(f"running {len(mutants)} mutants, {args.jobs} at a time ...", flush=True)

    def run(mutant: tuple[str, str]) -> Outcome:
        outcome = run_mutant(mutant[0], mutant[1], tests)
        print(
            f"  {outcome.verdict:<8} {outcome.seconds:5.1f}s  {outcome.primitive}:{outcome.fault}", flush=True
        )
        return outcome

    with ThreadPoolExecutor(max_workers=max(args.jobs, 1)) as pool:
        outcomes = list(pool.map(run, mutants))
    wall = time.perf_counter() - start
    print(table(outcomes))
    print(f"wall time {wall:.0f}s with {args.jobs} jobs")
    if args.report:
        args.report.write_text(markdown(outcomes, tests, wall, args.jobs))
        print(f"report written to {args.report}")
    return 0 if outcomes and all(o.killed for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
