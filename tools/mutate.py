"""Mutation testing of the derivative rules: ``python -m tools.mutate``.

For every primitive and every fault of :mod:`tools.mutants`, run the fast gradient suite (the
core tests and the property tests) in a fresh interpreter with that one fault injected, and
count the mutant *killed* when the suite fails. Prints a table and the kill rate; the exit
status is 0 only when every mutant is killed.

    python -m tools.mutate                  # all mutants, 2 at a time
    python -m tools.mutate --only exp,sum   # the mutants of some primitives
    python -m tools.mutate --jobs 1 -- tests/test_properties.py   # another test selection
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

from tools.mutant_plugin import ENV
from tools.mutants import all_mutants, faults_for

ROOT = Path(__file__).resolve().parent.parent

#: The fast gradient suite a mutant must fail: the core tests and the property tests.
DEFAULT_TESTS = ("tests/test_core*.py", "tests/test_properties.py", "tests/test_higher_order.py")

# pytest's exit codes: 0 all passed, 1 some test failed; anything else means the run itself
# broke (interrupted, internal error, usage error, no tests), which proves nothing.
PASSED, FAILED = 0, 1


@dataclass(frozen=True)
class Outcome:
    primitive: str
    fault: str
    verdict: str  # killed | survived | error
    seconds: float
    detail: str

    @property
    def killed(self) -> bool:
        return self.verdict == "killed"


def expand(patterns: list[str] | tuple[str, ...]) -> list[str]:
    """Test paths from glob patterns, relative to the repository root."""
    paths: list[str] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern, root_dir=ROOT))
        if not matches:
            raise SystemExit(f"mutate: no test file matches {pattern!r}")
        paths += matches
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
    if stop_at_first:
        command.append("-x")
    return subprocess.run(command + tests, cwd=ROOT, env=env, capture_output=True, text=True)


def run_mutant(primitive: str, fault: str, tests: list[str]) -> Outcome:
    """Run the suite against one mutant and classify the result."""
    start = time.perf_counter()
    result = run_suite(tests, f"{primitive}:{fault}")
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


def table(outcomes: list[Outcome]) -> str:
    """The report: one row per mutant, then the kill rate."""
    width = max([len("primitive"), *(len(o.primitive) for o in outcomes)])
    header = f"{'primitive':<{width}}  {'fault':<20} {'result':<9} {'time':>6}  first failing test"
    rows = [header, "-" * len(header)]
    for o in outcomes:
        detail = o.detail if len(o.detail) <= 90 else o.detail[:87] + "..."
        rows.append(f"{o.primitive:<{width}}  {o.fault:<20} {o.verdict:<9} {o.seconds:5.1f}s  {detail}")
    killed = sum(o.killed for o in outcomes)
    rate = 100.0 * killed / len(outcomes) if outcomes else 0.0
    rows.append("-" * len(header))
    rows.append(f"killed {killed}/{len(outcomes)} mutants: kill rate {rate:.1f}%")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.mutate", description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated primitive names (default: every primitive)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="mutants run at once")
    parser.add_argument("tests", nargs="*", default=list(DEFAULT_TESTS), help="test files or globs")
    args = parser.parse_args(argv)

    tests = expand(args.tests)
    mutants = all_mutants()
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {name for name, _ in mutants}
        if unknown:
            raise SystemExit(f"mutate: unknown primitives {sorted(unknown)}")
        mutants = [(name, fault) for name, fault in mutants if name in wanted]
    for name in {name for name, _ in mutants}:
        faults_for(name)  # a primitive without a structural fault fails here, loudly

    print(f"baseline: running {' '.join(tests)} without faults ...", flush=True)
    baseline = run_suite(tests, None, stop_at_first=False)
    if baseline.returncode != PASSED:
        print(baseline.stdout[-3000:], baseline.stderr[-3000:], sep="\n")
        print("mutate: the suite fails without any fault; fix it before mutation testing")
        return 2
    print(f"baseline: {baseline.stdout.strip().splitlines()[-1]}", flush=True)
    print(f"running {len(mutants)} mutants, {args.jobs} at a time ...", flush=True)

    with ThreadPoolExecutor(max_workers=max(args.jobs, 1)) as pool:
        outcomes = list(pool.map(lambda m: run_mutant(m[0], m[1], tests), mutants))
    print(table(outcomes))
    return 0 if outcomes and all(o.killed for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
