"""autograd.compare: forward against reverse mode, counted by the engine, as docs/maths.md predicts.

Referees: the sweep counts docs/maths.md derives (n forward, m reverse, one per colour), counters
attached independently, and the two modes' Jacobians against each other.
"""

import subprocess
import sys

import numpy as np
import pytest

import nn
from autograd import jacfwd, jacrev
from autograd.compare import GRID, compare_modes, dense_map, main, mlp_cost
from autograd.counters import count


def test_compare_modes_reports_counted_sweeps_and_calls():
    """n forward sweeps, m reverse sweeps, and the primitive calls an independent counter sees."""
    problem = dense_map(3, 5)
    r = compare_modes(problem.f, problem.x, repeats=1)
    assert (r.n_inputs, r.n_outputs, r.forward_sweeps, r.reverse_sweeps) == (3, 5, 3, 5)
    with count() as forward:
        j_forward = jacfwd(problem.f)(problem.x)
    with count() as reverse:
        j_reverse = jacrev(problem.f)(problem.x)
    assert (r.forward_ops, r.reverse_ops) == (forward.primitive_calls, reverse.primitive_calls)
    assert (r.forward_flops, r.reverse_flops) == (forward.total_flops, reverse.total_flops)
    assert r.max_abs_diff == float(np.max(np.abs(j_forward - j_reverse))) and r.max_abs_diff < 1e-14
    assert r.forward_seconds > 0 and r.reverse_seconds > 0
    assert (r.sparse_sweeps, r.sweeps_saved) == (3, 0)  # a dense Jacobian: nothing to share


def test_compare_modes_reports_sweeps_saved_by_colouring():
    """An elementwise map's sparse path takes 1 sweep and saves n - 1, with the same Jacobian."""
    x = np.random.default_rng(0).standard_normal(25)
    r = compare_modes(lambda t: nn.sigmoid(t) * t, x, repeats=1)
    assert (r.forward_sweeps, r.reverse_sweeps, r.sparse_sweeps, r.sweeps_saved) == (25, 25, 1, 24)
    assert r.sparse_max_abs_diff < 1e-15 and r.max_abs_diff < 1e-15
    assert r.sparse_ops < r.forward_ops


@pytest.mark.parametrize("n, m", [(2, 40), (40, 2), (1, 60), (60, 1)])
def test_the_cheaper_mode_is_the_one_math_md_predicts(n, m):
    """Counted primitive calls favour forward mode when n < m and reverse mode when n > m."""
    problem = dense_map(n, m)
    r = compare_modes(problem.f, problem.x, sparse=False, repeats=1)
    assert r.predicted == ("forward" if n < m else "reverse")
    assert r.cheaper == r.predicted
    assert r.sparse_sweeps is None and r.sweeps_saved is None


def test_mlp_cost_takes_one_reverse_sweep_against_one_forward_sweep_per_parameter():
    """The gradient of an MLP's cost: n = number of parameters forward sweeps, 1 reverse sweep."""
    problem = mlp_cost([6, 4, 3], 5)
    n = sum(p.size for p in problem.x)
    assert n == 6 * 4 + 4 + 4 * 3 + 3
    r = compare_modes(problem.f, problem.x, sparse=False, repeats=1)
    assert (r.n_inputs, r.n_outputs, r.forward_sweeps, r.reverse_sweeps) == (n, 1, n, 1)
    assert r.max_abs_diff < 1e-14 and r.cheaper == "reverse"


def test_the_default_grid_covers_the_required_shapes():
    """The command's grid includes (1, 1000), (10, 1000), (100, 100), (1000, 10) and (1000, 1)."""
    assert {(1, 1000), (10, 1000), (100, 100), (1000, 10), (1000, 1)} <= set(GRID)


def test_the_command_prints_a_table_and_writes_a_plot(tmp_path, capsys):
    """--quick prints the table, writes the PNG and the Markdown table; its rows agree with docs/maths.md."""
    out, table = tmp_path / "plots" / "modes.png", tmp_path / "table.md"
    results = main(["--quick", "--out", str(out), "--table", str(table), "--repeats", "1"])
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert table.read_text().strip() in printed
    assert len(table.read_text().strip().splitlines()) == 2 + len(results)
    for _, r in results:
        assert r.max_abs_diff < 1e-12
        assert (r.forward_sweeps, r.reverse_sweeps) == (r.n_inputs, r.n_outputs)
        if r.n_inputs != r.n_outputs:
            assert r.cheaper == r.predicted
    families = {problem.family for problem, _ in results}
    assert families == {"dense", "sparse", "cost"}
    sparse = [r for problem, r in results if problem.family == "sparse"]
    assert sorted(r.sparse_sweeps for r in sparse) == [1, 3]


def test_the_module_runs_as_a_command():
    """python -m autograd.compare is an entry point with --out, --table and --quick options."""
    command = [sys.executable, "-m", "autograd.compare", "--help"]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0
    for option in ("--out", "--table", "--quick"):
        assert option in done.stdout
