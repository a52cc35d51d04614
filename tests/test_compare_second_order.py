"""The second-order comparison: each Hessian-vector-product route counted as the engine runs."""

import numpy as np
import pytest

from autograd import hessian
from autograd.compare import compare_hvp_modes, main
from autograd.functional import HVP_MODES
from autograd.second_order import mlp_cost_of_parameters


def quartic(x):
    return (x * x * x * x).sum() + (x.sum() * x.sum())


@pytest.mark.parametrize("n", [3, 12])
def test_each_route_is_counted_and_agrees(n):
    """Sweeps as theory says (fwd-over-fwd: n forward; the others fixed), values equal H v."""
    x = np.linspace(-1.0, 1.0, n)
    v = np.cos(np.arange(n))
    results = {r.mode: r for r in compare_hvp_modes(quartic, x, v, repeats=1)}
    assert set(results) == set(HVP_MODES)
    expected = hessian(quartic)(x) @ v
    for mode, r in results.items():
        assert (r.forward_sweeps, r.reverse_sweeps) == r.predicted_sweeps, mode
        assert r.n_inputs == n and r.ops > 0 and r.seconds > 0 and r.peak_bytes > 0
        assert r.max_abs_diff < 1e-12
    assert results["fwd-over-fwd"].forward_sweeps == n
    # The routes that do not grow with n run the same number of primitives at both sizes;
    # fwd-over-fwd runs n sweeps of the same function.
    assert results["fwd-over-fwd"].ops > n * results["rev-over-fwd"].ops / 4
    for r in results.values():
        assert r.max_abs_diff <= 1e-12 * max(1.0, float(np.abs(expected).max()))


def test_ops_of_the_constant_routes_do_not_grow_with_n():
    small = {r.mode: r.ops for r in compare_hvp_modes(quartic, np.ones(4), np.ones(4), repeats=1)}
    large = {r.mode: r.ops for r in compare_hvp_modes(quartic, np.ones(40), np.ones(40), repeats=1)}
    for mode in ("fwd-over-rev", "rev-over-fwd", "rev-over-rev"):
        assert small[mode] == large[mode]
    assert large["fwd-over-fwd"] == 10 * small["fwd-over-fwd"]


def test_the_mlp_problem_is_a_smooth_cost_with_a_symmetric_hessian():
    f, theta = mlp_cost_of_parameters(3)
    h = hessian(f)(theta)
    np.testing.assert_allclose(h, h.T, atol=1e-12)
    assert np.linalg.norm(h) > 0


def test_the_command_prints_the_second_order_table(tmp_path, capsys):
    table = tmp_path / "hvp.md"
    rows = main(["--order", "2", "--quick", "--repeats", "1", "--table", str(table)])
    printed = capsys.readouterr().out
    assert "fwd-over-fwd" in printed and "Pearlmutter" in printed
    assert table.read_text().startswith("| f | n | mode |")
    by_mode = {}
    for _label, r in rows:
        by_mode.setdefault(r.mode, []).append(r)
        assert (r.forward_sweeps, r.reverse_sweeps) == r.predicted_sweeps
    sizes = [r.n_inputs for r in by_mode["fwd-over-fwd"]]
    assert sizes[0] < sizes[1]
    assert [r.forward_sweeps for r in by_mode["fwd-over-fwd"]] == sizes
