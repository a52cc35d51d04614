"""autograd.compile: a recorded step replays eager execution exactly, or refuses loudly.

The referee of a compiled step is the same step run eagerly (same kernels in the same order, so
the numbers must be bitwise equal), and, for plain SGD, the hand-written closed forms of the
MLP step (docs/maths.md) that the benchmarks use as their baseline.
"""

import importlib
import random
import tracemalloc
from functools import partial

import numpy as np
import pytest

import autograd
import nn
from autograd import Tensor
from autograd.compile import ConcretizationError
from benchmarks import handwritten as hand

SIZES = (6, 8, 5, 3)
compile_module = importlib.import_module("autograd.compile")  # (autograd.compile is the function)


def batches(n, m=7, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        X = rng.standard_normal((SIZES[0], m)).astype(dtype)
        Y = np.eye(SIZES[-1], dtype=dtype)[:, rng.integers(0, SIZES[-1], m)]
        yield X, Y


#: The optimizers of the compiled steps under test: SGD's and Adam's updates are replayed as
#: kernels of their own, each variant a different sequence.
OPTIMIZERS = {
    "sgd": partial(nn.optim.SGD, lr=0.1, momentum=0.9),
    "adam": partial(nn.optim.Adam, lr=0.01),
    "sgd-plain": partial(nn.optim.SGD, lr=0.1),
    "sgd-decay": partial(nn.optim.SGD, lr=0.1, weight_decay=0.01),
    "sgd-dampened": partial(nn.optim.SGD, lr=0.1, momentum=0.8, dampening=0.3, weight_decay=0.1),
    "sgd-nesterov": partial(nn.optim.SGD, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1),
    "adam-decay": partial(nn.optim.Adam, lr=0.01, weight_decay=0.1),
    "adamw": partial(nn.optim.AdamW, lr=0.01, weight_decay=0.1),
    # β2 = 0.5: the second moment falls often, so AMSGrad's maximum differs from it
    "adam-amsgrad": partial(nn.optim.Adam, lr=0.01, betas=(0.9, 0.5), amsgrad=True, weight_decay=0.05),
    # β1 = 0.3: lerp's weight 1 - β1 is 0.7, its other form
    "adam-low-beta": partial(nn.optim.Adam, lr=0.01, betas=(0.3, 0.9), eps=1e-6),
}


def make_step(optimizer, activation="relu", dtype=np.float64, group_per_parameter=False):
    """A model, its optimizer and the training step of the API example (zero_grad inside)."""
    model = nn.MLP(SIZES, activation=activation, dtype=dtype, rng=0)
    params = model.parameters()
    opt = OPTIMIZERS[optimizer]([{"params": [p]} for p in params] if group_per_parameter else params)
    calls = []

    def step(X, Y):
        calls.append(1)
        opt.zero_grad()
        loss = nn.softmax_cross_entropy(model(X), Y)
        loss.backward()
        opt.step()
        return loss

    return model, opt, step, calls


def optimizer_arrays(opt):
    """Every state array of the optimizer, in parameter order (PyTorch's state layout)."""
    return [opt.state[k][name] for k in sorted(opt.state) for name in sorted(opt.state[k]) if name != "step"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_fifty_steps_equal_eager(optimizer, activation, dtype):
    eager_model, eager_opt, eager_step, _ = make_step(optimizer, activation, dtype)
    model, opt, step, calls = make_step(optimizer, activation, dtype)
    compiled = autograd.compile(step)
    for X, Y in batches(50, dtype=dtype):
        expected = eager_step(Tensor(X), Tensor(Y))
        got = compiled(X, Y)
        assert got.dtype == dtype
        assert np.array_equal(got.data, expected.data)
    assert len(calls) == 1, "the Python function ran again instead of being replayed"
    for p, q in zip(model.parameters(), eager_model.parameters()):
        assert np.array_equal(p.data, q.data), p.name
        assert np.array_equal(p.grad, q.grad), p.name
    for a, b in zip(optimizer_arrays(opt), optimizer_arrays(eager_opt)):
        assert np.array_equal(a, b)
    if optimizer == "adam":
        assert [opt.state[k]["step"] for k in sorted(opt.state)] == [50] * len(opt.state)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_tanh_and_sigmoid_replay_as_kernels(activation, dtype):
    """Their forwards and VJPs replay as kernels writing into the recording's buffers (no rule
    called and its result copied), with eager's numbers also where the activations saturate:
    every other batch is scaled by 40, so |Z| reaches the hundreds."""
    eager_model, _, eager_step, _ = make_step("sgd", activation, dtype)
    model, _, step, calls = make_step("sgd", activation, dtype)
    compiled = autograd.compile(step)
    for k, (X, Y) in enumerate(batches(12, dtype=dtype)):
        X = X * (40 if k % 2 else 1)
        assert np.array_equal(compiled(X, Y).data, eager_step(Tensor(X), Tensor(Y)).data)
    assert len(calls) == 1
    (recording,) = compiled.recordings.values()
    functions = [f for f, _ in recording.program]
    assert compile_module._rule_into not in functions
    assert (np.tanh in functions) == (activation == "tanh")
    for p, q in zip(model.parameters(), eager_model.parameters()):
        assert np.array_equal(p.data, q.data), p.name
        assert np.array_equal(p.grad, q.grad), p.name


@pytest.mark.parametrize("chunked", [False, True], ids=["whole", "in-chunks"])
@pytest.mark.parametrize("grouped", [True, False], ids=["one-group", "group-per-parameter"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "optimizer",
    ["sgd-plain", "sgd-decay", "sgd-dampened", "sgd-nesterov"]
    + ["adam", "adam-decay", "adamw", "adam-amsgrad", "adam-low-beta"],
)
def test_every_update_variant_equals_eager(optimizer, dtype, grouped, chunked, monkeypatch):
    """Each SGD and Adam variant replays its own kernels: for one group, once over the flat
    arrays that hold all of its parameters, gradients, momenta and moments; else once per
    parameter. ``in-chunks``: with chunks of 5 float64 or 10 float32 numbers, arrays larger
    than two chunks are updated in pieces, the last one shorter. Adam's step counts and bias
    corrections advance in every replay as in eager steps."""
    if chunked:
        monkeypatch.setattr(nn.optim.optimizer.StepRecording, "CHUNK_BYTES", 40)
    eager_model, eager_opt, eager_step, _ = make_step(optimizer, dtype=dtype)
    model, opt, step, calls = make_step(optimizer, dtype=dtype, group_per_parameter=not grouped)
    compiled = autograd.compile(step)
    for k, (X, Y) in enumerate(batches(20, dtype=dtype)):
        if k == 10:  # a schedule's change of the learning rate: read afresh, not recorded anew
            for group in [*opt.param_groups, *eager_opt.param_groups]:
                group["lr"] *= 0.3
        assert np.array_equal(compiled(X, Y).data, eager_step(Tensor(X), Tensor(Y)).data)
    assert len(calls) == 1
    (recording,) = compiled.recordings.values()
    assert nn.optim.optimizer._replay_update not in [f for f, _ in recording.program]
    in_chunks = [f for f, _ in recording.program if f is nn.optim.optimizer._run_in_chunks]
    if grouped:
        total = sum(p.data.size for p in model.parameters())
        last, args = recording.program[-1]
        if chunked:
            assert last is nn.optim.optimizer._run_in_chunks and len(in_chunks) == 1
        else:  # w = w - lr g, over the whole group
            assert last is np.subtract and args[0].shape == (total,) and not in_chunks
    else:
        larger = [p for p in model.parameters() if p.data.nbytes > 80]  # twice the chunk
        assert len(in_chunks) == (len(larger) if chunked else 0) and len(larger) >= 2
    for p, q in zip(model.parameters(), eager_model.parameters()):
        assert np.array_equal(p.data, q.data), p.name
        assert np.array_equal(p.grad, q.grad), p.name
    for a, b in zip(optimizer_arrays(opt), optimizer_arrays(eager_opt)):
        assert np.array_equal(a, b)
    assert opt.state.keys() == eager_opt.state.keys()
    for k in opt.state:
        assert opt.state[k].keys() == eager_opt.state[k].keys()
        assert opt.state[k].get("step") == eager_opt.state[k].get("step")


@pytest.mark.parametrize("grouped", [True, False], ids=["one-group", "group-per-parameter"])
@pytest.mark.parametrize("eager_first", [1, 3])
@pytest.mark.parametrize("optimizer", ["sgd", "sgd-nesterov", "adam", "adam-amsgrad", "adamw"])
def test_compiled_steps_continue_eager_ones(optimizer, eager_first, grouped):
    """Steps taken eagerly first, then compiled with the same optimizer: the recording takes
    over the state the eager steps left (momenta, moments, step counts, AMSGrad's maximum,
    which eager's first step keeps in the same array as the second moment) and the numbers go
    on as eager steps' would."""
    reference_model, reference_opt, reference_step, _ = make_step(optimizer)
    model, opt, step, calls = make_step(optimizer, group_per_parameter=not grouped)
    compiled = autograd.compile(step)
    for k, (X, Y) in enumerate(batches(eager_first + 6)):
        expected = reference_step(Tensor(X), Tensor(Y))
        got = step(Tensor(X), Tensor(Y)) if k < eager_first else compiled(X, Y)
        assert np.array_equal(got.data, expected.data)
    assert len(calls) == eager_first + 1  # the eager steps and one recording
    for a, b in zip(optimizer_arrays(opt), optimizer_arrays(reference_opt)):
        assert np.array_equal(a, b)
    steps = [s.get("step") for s in opt.state.values()]
    assert steps == [s.get("step") for s in reference_opt.state.values()]
    for p, q in zip(model.parameters(), reference_model.parameters()):
        assert np.array_equal(p.data, q.data), p.name


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_linear_relu_in_blocks_of_rows_equals_eager(optimizer, dtype, monkeypatch):
    """With blocks of two rows (of 7 columns), ``Z += b``, ``relu(Z)`` and relu's mask run one
    block after another (the last one shorter for 5 rows): the same numbers as eager execution.
    The biases' gradients are products with a column of ones, eager's own kernel."""
    monkeypatch.setattr(compile_module, "ROW_BLOCK_BYTES", 2 * 7 * np.dtype(dtype).itemsize)
    eager_model, _, eager_step, _ = make_step(optimizer, dtype=dtype)
    model, _, step, calls = make_step(optimizer, dtype=dtype)
    compiled = autograd.compile(step)
    for X, Y in batches(20, m=7, dtype=dtype):
        assert np.array_equal(compiled(X, Y).data, eager_step(Tensor(X), Tensor(Y)).data)
    assert len(calls) == 1
    (recording,) = compiled.recordings.values()
    blocked = [f for f, _ in recording.program if isinstance(f, compile_module._InRows)]
    shapes = [(rows.rows, rows.block, len(rows.blocks)) for rows in blocked]
    assert shapes == [(8, 2, 4), (5, 2, 3)]  # the two layers' forward
    for rows in blocked:
        assert [f for f, _ in rows.kernels][-1] is np.greater  # the mask joined the forward
    ones_products = [args for f, args in recording.program if f is np.dot and args[1].shape == (7, 1)]
    assert len(ones_products) == len(model.parameters()) // 2  # one per layer's bias
    assert all(np.all(args[1] == 1) for args in ones_products)
    for p, q in zip(model.parameters(), eager_model.parameters()):
        assert np.array_equal(p.data, q.data), p.name
        assert np.array_equal(p.grad, q.grad), p.name


@pytest.mark.parametrize("optimizer", ["sgd", "sgd-plain"])
def test_a_parameter_without_gradient_in_the_group(optimizer):
    """A parameter of the group that the cost does not use has no gradient: eager skips it, and
    so does the replay (which then updates the others one by one)."""

    def make():
        model = nn.MLP(SIZES, dtype=np.float64, rng=0)
        unused = Tensor(np.arange(3.0), requires_grad=True)
        params = [*model.parameters()[:2], unused, *model.parameters()[2:]]
        opt = OPTIMIZERS[optimizer](params)

        def step(X, Y):
            opt.zero_grad()
            loss = nn.softmax_cross_entropy(model(X), Y)
            loss.backward()
            opt.step()
            return loss

        return model, unused, step

    eager_model, _, eager_step = make()
    model, unused, step = make()
    compiled = autograd.compile(step)
    for X, Y in batches(5):
        assert np.array_equal(compiled(X, Y).data, eager_step(Tensor(X), Tensor(Y)).data)
    for p, q in zip(model.parameters(), eager_model.parameters()):
        assert np.array_equal(p.data, q.data), p.name
        assert np.array_equal(p.grad, q.grad), p.name
    assert np.array_equal(unused.data, np.arange(3.0)) and unused.grad is None


def test_sgd_step_matches_the_closed_forms():
    """Plain SGD on a ReLU network against the hand-written backpropagation of docs/maths.md."""
    params = hand.init_mlp(SIZES, seed=3, dtype=np.float64)
    tensors = [Tensor(p, requires_grad=True) for p in params]
    opt = nn.optim.SGD(tensors, lr=0.05)

    @autograd.compile
    def step(X, Y):
        opt.zero_grad()
        A = X
        for k in range(0, len(tensors), 2):
            Z = autograd.linear(tensors[k], A, tensors[k + 1])
            A = Z.relu() if k + 2 < len(tensors) else Z
        loss = autograd.softmax_cross_entropy(Z, Y)
        loss.backward()
        opt.step()
        return loss

    for X, Y in batches(5):
        expected = hand.mlp_step(params, X, Y, lr=0.05)
        got = step(X, Y)
        np.testing.assert_allclose(got.data, expected, rtol=1e-12)
        for p, t in zip(params, tensors):
            np.testing.assert_allclose(t.data, p, rtol=1e-12, atol=1e-15)


def test_new_batch_size_records_again():
    eager_model, _, eager_step, _ = make_step("adam")
    model, _, step, calls = make_step("adam")
    compiled = autograd.compile(step)
    for m in (7, 5, 7, 5, 3):
        for X, Y in batches(2, m=m, seed=m):
            expected = eager_step(Tensor(X), Tensor(Y))
            assert np.array_equal(compiled(X, Y).data, expected.data)
    assert len(calls) == 3  # one recording per batch size, replayed after
    assert len(compiled.recordings) == 3
    for p, q in zip(model.parameters(), eager_model.parameters()):
        assert np.array_equal(p.data, q.data)


@pytest.mark.parametrize("grouped", [True, False], ids=["one-group", "group-per-parameter"])
@pytest.mark.parametrize("optimizer", ["sgd", "sgd-nesterov", "adam"])
def test_recordings_for_two_batch_sizes_share_the_optimizer_state(optimizer, grouped):
    """A last, shorter batch per epoch: two recordings take turns, each continuing the momenta
    the other one left, as eager steps do."""
    eager_model, _, eager_step, _ = make_step(optimizer)
    model, _, step, calls = make_step(optimizer, group_per_parameter=not grouped)
    compiled = autograd.compile(step)
    for epoch in range(4):
        for m in (7, 7, 3):
            X, Y = next(batches(1, m=m, seed=10 * epoch + m))
            assert np.array_equal(compiled(X, Y).data, eager_step(Tensor(X), Tensor(Y)).data)
    assert len(calls) == 2  # recorded once per batch size
    for p, q in zip(model.parameters(), eager_model.parameters()):
        assert np.array_equal(p.data, q.data), p.name


def test_outside_parameter_changes_are_seen():
    """``p.data = ...`` and ``load_state_dict`` between calls: the next replay starts from them."""
    eager_model, _, eager_step, _ = make_step("sgd")
    model, _, step, calls = make_step("sgd")
    compiled = autograd.compile(step)
    data = list(batches(6))
    for X, Y in data[:2]:
        eager_step(Tensor(X), Tensor(Y))
        compiled(X, Y)
    W = model.layers[0].W
    W.data = W.data * 0.5
    eager_model.layers[0].W.data = eager_model.layers[0].W.data * 0.5
    for X, Y in data[2:4]:
        assert np.array_equal(compiled(X, Y).data, eager_step(Tensor(X), Tensor(Y)).data)
    saved = {k: v * 2 for k, v in eager_model.state_dict().items()}
    model.load_state_dict(saved)
    eager_model.load_state_dict(saved)
    for X, Y in data[4:]:
        assert np.array_equal(compiled(X, Y).data, eager_step(Tensor(X), Tensor(Y)).data)
    assert len(calls) == 1
    for p, q in zip(model.parameters(), eager_model.parameters()):
        assert np.array_equal(p.data, q.data)


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "sgd-plain"])
def test_learning_rate_changes_are_seen_without_recording_again(optimizer):
    eager_model, eager_opt, eager_step, _ = make_step(optimizer)
    model, opt, step, calls = make_step(optimizer)
    compiled = autograd.compile(step)
    for k, (X, Y) in enumerate(batches(6)):
        for o in (opt, eager_opt):
            o.param_groups[0]["lr"] = 0.1 / (k + 1)
        assert np.array_equal(compiled(X, Y).data, eager_step(Tensor(X), Tensor(Y)).data)
    assert len(calls) == 1
    for p, q in zip(model.parameters(), eager_model.parameters()):
        assert np.array_equal(p.data, q.data)


def test_a_schedule_sets_the_learning_rate_of_the_replays():
    eager_model, eager_opt, eager_step, _ = make_step("sgd")
    model, opt, step, calls = make_step("sgd")
    schedules = [nn.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5) for o in (opt, eager_opt)]
    compiled = autograd.compile(step)
    for X, Y in batches(7):
        assert np.array_equal(compiled(X, Y).data, eager_step(Tensor(X), Tensor(Y)).data)
        for schedule in schedules:
            schedule.step()
    assert opt.param_groups[0]["lr"] == 0.1 * 0.5**3
    assert len(calls) == 1
    for p, q in zip(model.parameters(), eager_model.parameters()):
        assert np.array_equal(p.data, q.data)


def test_an_invalid_learning_rate_raises_on_replay():
    _, opt, step, _ = make_step("sgd-plain")
    compiled = autograd.compile(step)
    (X, Y), (X2, Y2) = batches(2)
    compiled(X, Y)
    before = [p.data.copy() for p in opt.param_groups[0]["params"]]
    opt.param_groups[0]["lr"] = float("nan")
    with pytest.raises(ValueError, match=r"SGD.step: param_groups\[0\]\['lr'\] must be a finite number"):
        compiled(X2, Y2)
    for p, b in zip(opt.param_groups[0]["params"], before):
        assert np.array_equal(p.data, b)  # raised before any kernel ran


def _set_momentum(opt):
    opt.param_groups[0]["momentum"] = 0.5


def _set_nesterov(opt):
    opt.param_groups[0]["nesterov"] = True


def _add_group(opt):
    opt.add_param_group({"params": [Tensor(np.ones(3), requires_grad=True)]})


def _replace_parameter(opt):
    params = opt.param_groups[0]["params"]
    params[0] = Tensor(params[0].data.copy(), requires_grad=True)


@pytest.mark.parametrize(
    "change", [_set_momentum, _set_nesterov, _add_group, _replace_parameter],
    ids=["momentum", "nesterov", "new group", "parameter replaced"],
)
def test_changed_optimizer_groups_record_again(change):
    """Anything but the learning rate is part of the recording: a change records anew, and the
    steps stay those of eager execution."""
    eager_model, eager_opt, eager_step, _ = make_step("sgd")
    model, opt, step, calls = make_step("sgd")
    compiled = autograd.compile(step)
    data = list(batches(5))
    for X, Y in data[:2]:
        assert np.array_equal(compiled(X, Y).data, eager_step(Tensor(X), Tensor(Y)).data)
    change(opt)
    change(eager_opt)
    for X, Y in data[2:]:
        model.zero_grad()  # (a parameter the optimizer no longer lists keeps its gradient)
        eager_model.zero_grad()
        assert np.array_equal(compiled(X, Y).data, eager_step(Tensor(X), Tensor(Y)).data)
    assert len(calls) == 2
    for p, q in zip(model.parameters(), eager_model.parameters()):
        assert np.array_equal(p.data, q.data), p.name


def test_eager_optimizer_step_in_between_records_again():
    """An eager step replaces the optimizer's state arrays: the compiled step records anew."""
    eager_model, eager_opt, eager_step, _ = make_step("sgd")
    model, opt, step, calls = make_step("sgd")
    compiled = autograd.compile(step)
    data = list(batches(4))
    for X, Y in data[:2]:
        compiled(X, Y)
        eager_step(Tensor(X), Tensor(Y))
    X, Y = data[2]
    step(Tensor(X), Tensor(Y))  # eagerly, outside the compiled function
    eager_step(Tensor(X), Tensor(Y))
    X, Y = data[3]
    assert np.array_equal(compiled(X, Y).data, eager_step(Tensor(X), Tensor(Y)).data)
    assert len(calls) == 3
    for p, q in zip(model.parameters(), eager_model.parameters()):
        assert np.array_equal(p.data, q.data)


def test_gradient_left_from_before_the_call_raises():
    """A function that does not clear the gradients was recorded from none: a later call that
    finds a gradient would have to accumulate into it, which the recording cannot: it raises."""
    model = nn.MLP(SIZES, dtype=np.float64, rng=0)
    opt = nn.optim.SGD(model.parameters(), lr=0.1)

    @autograd.compile
    def step(X, Y):
        nn.softmax_cross_entropy(model(X), Y).backward()
        opt.step()

    (X, Y), (X2, Y2) = batches(2)
    step(X, Y)
    with pytest.raises(RuntimeError, match="zero_grad"):
        step(X2, Y2)
    opt.zero_grad()
    step(X2, Y2)  # cleared before the call: fine


def test_returned_tensors_are_copies():
    _, _, step, _ = make_step("sgd")
    compiled = autograd.compile(step)
    losses = [compiled(X, Y) for X, Y in batches(4)]
    values = [float(loss.data) for loss in losses]
    assert len(set(values)) == 4  # each call's own value, not one shared buffer


def _step_with(body):
    model = nn.MLP(SIZES, dtype=np.float64, rng=0)
    opt = nn.optim.SGD(model.parameters(), lr=0.1)

    def step(X, Y):
        opt.zero_grad()
        loss = nn.softmax_cross_entropy(model(X), Y)
        loss = body(loss, X)
        loss.backward()
        opt.step()
        return loss

    return autograd.compile(step)


def _item(loss, X):
    loss.item()
    return loss


def _branch(loss, X):
    return loss * 2.0 if loss else loss


def _numpy(loss, X):
    return loss * float(loss.numpy())


def _data(loss, X):
    return loss + X.data.sum()


def _assign(loss, X):
    loss.assign(np.zeros(()))
    return loss


def _numpy_random(loss, X):
    return loss * np.random.rand()


def _python_random(loss, X):
    return loss * random.random()


def _jvp(loss, X):
    autograd.jvp(lambda x: x * 2.0, (X,), (np.ones(X.shape),))
    return loss


def _hessian(loss, X):
    autograd.hessian(lambda x: (x * x).sum())(np.ones(3))
    return loss


def _grad(loss, X):
    autograd.gradients(loss, [X.relu()], allow_unused=True)
    return loss


def _retain_grad(loss, X):
    loss.retain_grad()
    return loss


@pytest.mark.parametrize(
    "body, message",
    [
        (_item, r"\.item\(\)"),
        (_branch, r"bool\(\) of a tensor \(Python control flow on tensor values\)"),
        (_numpy, r"\.numpy\(\)"),
        (_data, r"\.data read"),
        (_assign, r"replacing a tensor's data"),
        (_numpy_random, "randomness drawn in Python .*NumPy's global generator"),
        (_python_random, "randomness drawn in Python .*random module"),
        (_jvp, r"function transform|\.data read"),  # jvp reads its arguments first
        (_grad, r"gradients\(\)"),
        (_hessian, "forward-mode tangents"),  # forward over reverse
        (_retain_grad, r"retain_grad\(\)"),
    ],
    ids=[
        "item",
        "bool",
        "numpy",
        "data",
        "assign",
        "numpy-random",
        "python-random",
        "jvp",
        "gradients",
        "hessian",
        "retain_grad",
    ],
)
def test_unreplayable_constructs_raise_when_recording(body, message):
    compiled = _step_with(body)
    X, Y = next(batches(1))
    with pytest.raises(ConcretizationError, match=message):
        compiled(X, Y)
    assert not compiled.recordings
    assert autograd.compile.__module__ == "autograd.compile"


def test_engine_state_is_restored_after_a_failed_recording():
    compiled = _step_with(_item)
    X, Y = next(batches(1))
    with pytest.raises(ConcretizationError):
        compiled(X, Y)
    t = Tensor([1.0, 2.0])
    assert t.data.sum() == 3.0  # reads work again
    assert not autograd.state.local.observed


def test_arguments_must_be_data():
    _, _, step, _ = make_step("sgd")
    compiled = autograd.compile(step)
    X, Y = next(batches(1))
    with pytest.raises(TypeError, match="argument 0 requires grad"):
        compiled(Tensor(X, requires_grad=True), Y)
    with pytest.raises(TypeError, match="argument 1 is a list"):
        compiled(X, Y.tolist())


def test_memory_stays_flat_over_many_replays():
    _, _, step, _ = make_step("adam", dtype=np.float32)
    compiled = autograd.compile(step)
    X, Y = next(batches(1, dtype=np.float32))
    for _ in range(50):
        compiled(X, Y)
    tracemalloc.start()
    try:
        for _ in range(100):
            compiled(X, Y)
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(10_000):
            compiled(X, Y)
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert after - before < 4096, f"memory grew by {after - before} bytes over 10,000 replays"


def model_and_step(sizes, cost_of):
    """A float64 MLP of ``sizes`` and the SGD step that trains it on ``cost_of(model(X), Y)``."""
    model = nn.MLP(sizes, dtype=np.float64, rng=0)
    opt = nn.optim.SGD(model.parameters(), lr=0.1)

    def step(X, Y):
        opt.zero_grad()
        loss = cost_of(model(X), Y)
        loss.backward()
        opt.step()
        return loss

    return model, step


def test_binary_cost_and_constant_operands_follow_the_arguments():
    """``z - Y`` and ``z / Y`` with a constant ``Y`` (an argument) and the binary cost from the
    logits (its sign masks come from the values): all follow each call's data."""

    def cost(z, Y):
        return nn.binary_cross_entropy_with_logits(z, Y) + ((z - Y) * (z / (Y + 1.0))).sum() * 0.01

    eager_model, eager_step = model_and_step((2, 8, 1), cost)
    model, step = model_and_step((2, 8, 1), cost)
    compiled = autograd.compile(step)
    rng = np.random.default_rng(5)
    for _ in range(10):
        X = rng.standard_normal((2, 5))
        Y = (rng.random((1, 5)) > 0.5).astype(np.float64)
        assert np.array_equal(compiled(X, Y).data, eager_step(Tensor(X), Tensor(Y)).data)
    for p, q in zip(model.parameters(), eager_model.parameters()):
        assert np.array_equal(p.data, q.data)


@pytest.mark.parametrize("axis, keepdims", [(0, False), (1, False), (1, True), ((0, 1), False), (None, True)])
def test_sums_gradient_replays_as_a_copy_over_the_summed_axes(axis, keepdims):
    """The VJP of ``sum`` (``g`` spread back over the summed axes) replays as one copy into its
    buffer, following ``g`` when the weights ``c`` of the sums change from call to call."""
    shape = np.sum(np.ones((3, 5)), axis=axis, keepdims=keepdims).shape
    recording = replays_equal_eager(
        lambda z, c: (z.sum(axis=axis, keepdims=keepdims) * c).sum(), lambda rng: rng.standard_normal(shape)
    )
    assert compile_module._rule_into not in [f for f, _ in recording.program]


def replays_equal_eager(loss_of, weights, calls=4):
    """``loss_of(W @ X, c)`` and its backward, compiled and eager, over ``calls`` calls with new
    ``X`` and ``c = weights(rng)``: equal losses and gradients of ``W``. Returns the recording."""

    def make():
        W = Tensor(np.arange(12.0).reshape(3, 4) / 7 - 0.5, requires_grad=True)

        def f(X, c):
            loss = loss_of(W @ X, c)
            loss.backward()
            return loss

        return W, f

    W_eager, eager = make()
    W, f = make()
    compiled = autograd.compile(f)
    rng = np.random.default_rng(11)
    for _ in range(calls):
        X, c = rng.standard_normal((4, 5)), weights(rng)
        W.grad = W_eager.grad = None
        assert np.array_equal(compiled(X, c).data, eager(Tensor(X), Tensor(c)).data)
        assert np.array_equal(W.grad, W_eager.grad)
    (recording,) = compiled.recordings.values()
    return recording


ELEMENTWISE = {
    "divide": lambda z, c: z / c,
    "divide-both": lambda z, c: z / (z * z + c),  # the divisor tracked: both VJPs
    "power": lambda z, c: (z * z + 1.0) ** c,
    "sqrt": lambda z, c: (z * z + c).sqrt(),
    "abs": lambda z, c: abs(z) * c,
    "sin": lambda z, c: z.sin() * c,
    "cos": lambda z, c: z.cos() * c,
    "reciprocal": lambda z, c: c / (z * z + 1.0),
    "maximum": lambda z, c: autograd.maximum(z, c - 1.0),
    "minimum": lambda z, c: autograd.minimum(z, c - 1.0),
}


@pytest.mark.parametrize("op", sorted(ELEMENTWISE))
def test_ufunc_forwards_replay_into_their_buffers(op):
    """Primitives whose forward is a NumPy ufunc replay it into the output's buffer (maximum and
    minimum by keyword: a positional out is deprecated): no rule is called and copied for their
    forwards, and the numbers follow the arguments as eager's do."""
    from autograd import primitives as P

    recording = replays_equal_eager(
        lambda z, c: ELEMENTWISE[op](z, c).sum(), lambda rng: rng.uniform(0.5, 2.0, (3, 1))
    )
    forwards = {prim.forward for prim in P.PRIMITIVES.values()}
    copied = [args[0] for f, args in recording.program if f is compile_module._rule_into]
    assert not [rule for rule in copied if rule in forwards], copied
    if op in ("divide", "divide-both", "sqrt", "abs", "reciprocal", "sin", "cos"):  # VJPs too: kernels only
        assert not copied, copied


@pytest.mark.parametrize("cost", ["cross_entropy", "categorical_cross_entropy", "binary_cross_entropy"])
def test_every_cost_compiles_and_follows_the_arguments(cost):
    """The costs whose work depends on the values of their arguments record it as host
    computations that run again on every call: the one-hot targets of integer labels, and the
    entries that the probability costs clamp at log 0 = -100 (outputs driven to exactly 0 and 1
    by scaled inputs on every other step). Losses and parameters equal eager steps'."""

    def cost_of(z, Y):
        if cost == "cross_entropy":
            return nn.cross_entropy(z, Y)
        if cost == "categorical_cross_entropy":
            return nn.categorical_cross_entropy(nn.softmax(z), Y)
        return nn.binary_cross_entropy(z.sigmoid(), Y)

    eager_model, eager_step = model_and_step((4, 8, 3), cost_of)
    model, step = model_and_step((4, 8, 3), cost_of)
    compiled = autograd.compile(step)
    rng = np.random.default_rng(7)
    clamped = 0
    for k in range(12):
        X = rng.standard_normal((4, 6)) * (800.0 if k % 2 else 1.0)  # saturated outputs: 0s and 1s
        labels = rng.integers(0, 3, 6)
        Y = labels if cost == "cross_entropy" else np.eye(3)[:, labels]
        expected = eager_step(Tensor(X), Tensor(Y))
        assert np.array_equal(compiled(X, Y).data, expected.data)
        clamped += expected.item() > 30  # a log clamped at -100 somewhere
    assert len(compiled.recordings) == 1
    if cost != "cross_entropy":
        assert clamped >= 3  # the clamps were exercised, not only the plain log
    for p, q in zip(model.parameters(), eager_model.parameters()):
        assert np.array_equal(p.data, q.data)


def test_labels_out_of_range_raise_on_a_replay():
    """A replay checks the labels it turns into one-hot columns: -1 would silently pick the
    last class."""
    model = nn.MLP((4, 8, 3), dtype=np.float64, rng=0)

    @autograd.compile
    def loss(X, labels):
        return nn.cross_entropy(model(X), labels)

    X = np.ones((4, 2))
    loss(X, np.array([0, 2]))
    loss(X, np.array([1, 1]))  # a replay
    for bad in ([0, -1], [3, 0]):
        with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\]"):
            loss(X, np.array(bad))


# The replay multiplies first (0 · -inf: NumPy warns) and sums again without those terms.
@pytest.mark.filterwarnings("ignore:invalid value encountered in multiply:RuntimeWarning")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_masked_classes_in_a_replay_give_eager_cost(dtype):
    """A logit of -inf (a class masked by the argument ``M``) has log A = -inf: eager sums
    ``Y ⊙ log A`` only where Y ≠ 0, and so must a replay recorded without a masked class."""

    def make():
        model = nn.MLP(SIZES, dtype=dtype, rng=0)
        opt = nn.optim.SGD(model.parameters(), lr=0.1)

        def step(X, Y, M):
            opt.zero_grad()
            loss = nn.softmax_cross_entropy(model(X) + M, Y)
            loss.backward()
            opt.step()
            return loss

        return model, step

    eager_model, eager_step = make()
    model, step = make()
    compiled = autograd.compile(step)
    for k, (X, Y) in enumerate(batches(6, dtype=dtype)):
        M = np.zeros(Y.shape, dtype=dtype)
        if k % 2:
            M[(Y == 0).argmax(axis=0), np.arange(Y.shape[1])] = -np.inf  # a wrong class per column
        expected = eager_step(Tensor(X), Tensor(Y), Tensor(M)).data
        got = compiled(X, Y, M).data
        assert np.isfinite(expected)
        assert np.array_equal(got, expected)
    for p, q in zip(model.parameters(), eager_model.parameters()):
        assert np.array_equal(p.data, q.data)


@pytest.mark.parametrize("dataset, activation", [("digits", "relu"), ("moons", "tanh")])
def test_training_job_compiles_its_step_with_the_same_losses(dataset, activation):
    """``python -m nn.train`` replays a recorded step by default; --no-compile runs it eagerly.
    Both give the same loss at every step (the last batch of an epoch, smaller, is recorded
    on its own)."""
    from nn import train

    config = train.Config(dataset=dataset, hidden=(16,), activation=activation, epochs=2, batch_size=100)
    data = train.load_dataset(dataset)
    compiled = train.train(config, data).metrics
    eager = train.train(train.Config(**{**config.__dict__, "compile": False}), data).metrics
    assert compiled["losses"]["per_step"] == eager["losses"]["per_step"]
    assert compiled["test_accuracy"] == eager["test_accuracy"]


def test_views_of_arguments_follow_them_and_leave_them_alone():
    """``X.T`` and ``X.reshape`` of an argument are views of the caller's array: the replay
    recomputes them from each call's argument and never writes into the caller's memory."""
    W = Tensor(np.random.default_rng(2).standard_normal((6, 4)), requires_grad=True)
    opt = nn.optim.SGD([W], lr=0.1)

    def step(X):
        opt.zero_grad()
        loss = ((X.T @ W).relu() * X.reshape(-1).sum()).sum()
        loss.backward()
        opt.step()
        return loss

    W_eager = Tensor(W.data, requires_grad=True)
    opt_eager = nn.optim.SGD([W_eager], lr=0.1)

    def eager(X):
        opt_eager.zero_grad()
        loss = ((X.T @ W_eager).relu() * X.reshape(-1).sum()).sum()
        loss.backward()
        opt_eager.step()
        return loss

    compiled = autograd.compile(step)
    rng = np.random.default_rng(3)
    seen = []
    for _ in range(4):
        X = rng.standard_normal((6, 5))
        seen.append((X, X.copy()))
        assert np.array_equal(compiled(X).data, eager(Tensor(X)).data)
    assert all(np.array_equal(X, kept) for X, kept in seen)
    assert np.array_equal(W.data, W_eager.data)


def test_dropout_draws_a_new_mask_on_every_replay_and_follows_the_mode():
    """A compiled step with dropout equals the eager one step after step (each replay draws the
    next mask from the layer's generator), and switching to eval mode records anew."""
    import autograd

    def build():
        layers = [nn.Linear(4, 8, rng=0), nn.ReLU(), nn.Dropout(0.5, rng=1), nn.Linear(8, 3, rng=2)]
        model = nn.Sequential(*layers)
        return model, nn.optim.SGD(model.parameters(), lr=0.1)

    rng = np.random.default_rng(3)
    X = rng.standard_normal((4, 6))
    Y = np.eye(3)[:, rng.integers(0, 3, 6)]

    def make_step(model, opt):
        def step(X, Y):
            opt.zero_grad()
            loss = nn.softmax_cross_entropy(model(X), Y)
            loss.backward()
            opt.step()
            return loss
        return step

    eager_model, eager_opt = build()
    compiled_model, compiled_opt = build()
    eager_step = make_step(eager_model, eager_opt)
    compiled_step = autograd.compile(make_step(compiled_model, compiled_opt))
    losses = []
    for _ in range(5):
        a, b = eager_step(X, Y), compiled_step(X, Y)
        losses.append(float(a.data))
        assert float(a.data) == float(b.data)
    assert len(set(losses)) == 5  # the masks differ from step to step
    for p, q in zip(eager_model.parameters(), compiled_model.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    eager_model.eval()
    compiled_model.eval()
    assert float(eager_step(X, Y).data) == float(compiled_step(X, Y).data)
    # In eval mode dropout is the identity: the same loss twice in a row (after the same update).
    eager_model.train()
    compiled_model.train()
    assert float(eager_step(X, Y).data) == float(compiled_step(X, Y).data)
