"""The shape table every primitive is tested on, shared by the reverse- and forward-mode suites.

A case is a primitive name, the shapes of its array inputs, its static arguments and the domain
its inputs are drawn from (kept away from poles and kinks, where finite differences fail).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Case:
    name: str
    shapes: tuple
    static: tuple = ()
    # any | positive | away_from_zero | base_positive | divisor_away_from_zero | ties
    domain: str = "any"

    @property
    def id(self) -> str:
        shapes = "-".join("x".join(map(str, s)) or "scalar" for s in self.shapes)
        static = "-".join(str(s).replace(" ", "") for s in self.static)
        ties = "~ties" if self.domain == "ties" else ""
        return f"{self.name}[{shapes}{'|' + static if static else ''}{ties}]"

    def inputs(self, seed: int = 0, dtype=np.float64) -> list[np.ndarray]:
        rng = np.random.default_rng(seed)
        if self.domain == "ties":
            return [np.asarray(x, dtype=dtype) for x in _with_ties(rng, self.shapes)]
        arrays = []
        for k, shape in enumerate(self.shapes):
            x = rng.standard_normal(shape)
            domain = self.domain
            if domain == "base_positive":  # x ** y: a positive base, any exponent
                domain = "positive" if k == 0 else "any"
            elif domain == "divisor_away_from_zero":  # x / y: any x, y off the pole
                domain = "away_from_zero" if k == 1 else "any"
            if domain == "positive":
                x = np.abs(x) + 0.5
            elif domain == "away_from_zero":
                x = np.sign(x + (x == 0)) * (np.abs(x) + 0.5)
            arrays.append(np.asarray(x, dtype=dtype))
        return arrays


def _with_ties(rng, shapes) -> list[np.ndarray]:
    """Inputs with ties, two at a time (central differences then agree with the rule of shared
    gradients: a tie of two moves by half of a perturbation of either).

    One input: each value appears twice, shuffled. Two inputs: ``y`` equals ``x`` at every
    other element.
    """
    if len(shapes) == 1:
        size = int(np.prod(shapes[0]))
        values = np.repeat(rng.standard_normal((size + 1) // 2), 2)[:size]
        return [rng.permutation(values).reshape(shapes[0])]
    x = rng.standard_normal(shapes[0])
    y = rng.standard_normal(shapes[1])
    tied = (np.arange(x.size) % 2 == 0).reshape(x.shape)
    return [x, np.where(tied, x, y)]


UNARY_SHAPES = [(), (3,), (2, 3), (4, 0), (2, 1, 3)]
BINARY_SHAPES = [(), (3,), (2, 3), (4, 0), (3, 1, 2)]
UNARY_DOMAINS = {
    "exp": "any",
    "log": "positive",
    "reciprocal": "away_from_zero",
    "relu": "away_from_zero",
    "neg": "any",
    "abs": "away_from_zero",
    "sqrt": "positive",
    "tanh": "any",
    "sigmoid": "any",
    "sin": "any",
    "cos": "any",
}
BINARY_DOMAINS = {
    "add": "any",
    "mul": "any",
    "divide": "divisor_away_from_zero",
    "power": "base_positive",
    "maximum": "any",
    "minimum": "any",
}

CASES: list[Case] = []
for _name, _domain in UNARY_DOMAINS.items():
    CASES += [Case(_name, (s,), (), _domain) for s in UNARY_SHAPES]
for _name, _domain in BINARY_DOMAINS.items():
    CASES += [Case(_name, (s, s), (), _domain) for s in BINARY_SHAPES]
# Ties: the tied inputs of maximum and minimum share the gradient equally.
CASES += [Case(_name, (s, s), (), "ties") for _name in ("maximum", "minimum") for s in [(4,), (2, 3)]]
# clip between constant bounds (either may be absent); where with a constant condition.
CASES += [
    Case("clip", (x,), bounds)
    for x, bounds in [((), (-0.5, 0.5)), ((3,), (None, 0.3)), ((2, 3), (-0.2, None)), ((4, 0), (0.0, 1.0)),
                      ((2, 1, 3), (-0.5, 0.5))]
]
CASES += [
    Case("where", (s, s), (cond,))
    for s, cond in [
        ((), np.array(True)),
        ((3,), np.array([True, False, True])),
        ((2, 3), np.array([[True, False, False], [False, True, True]])),
        ((2, 3), np.array([False, True, False])),  # the condition broadcasts
        ((4, 0), np.zeros((4, 0), dtype=bool)),
    ]
]
# max and min: reductions like sum (random values: no ties, which tests/test_ops.py covers).
CASES += [
    Case(_name, (x,), (axis, keepdims))
    for _name in ("max", "min")
    for x, axis, keepdims in [
        ((2, 3), None, False),
        ((2, 3), (0,), False),
        ((2, 3), (1,), True),
        ((2, 3, 4), (0, 2), False),
        ((), None, False),
        ((4, 0), (0,), True),
    ]
]
CASES += [
    Case(_name, (x,), (axis, keepdims), "ties")
    for _name in ("max", "min")
    for x, axis, keepdims in [((2,), None, False), ((3, 4), (1,), False), ((4, 2), (0,), True)]
]
CASES += [
    Case("matmul", shapes)
    for shapes in [
        ((2, 3), (3, 4)),
        ((2, 3), (3,)),
        ((3,), (3, 4)),
        ((3,), (3,)),
        ((2, 0), (0, 3)),
        ((0, 2), (2, 3)),
        ((4, 4), (4, 4)),
        # stacks of matrices: leading axes broadcast as in np.matmul
        ((2, 2, 3), (3, 4)),
        ((2, 3), (5, 3, 4)),
        ((2, 1, 2, 3), (3, 3, 2)),
        ((3,), (2, 3, 4)),
        ((2, 2, 3), (3,)),
        ((0, 2, 3), (3, 2)),
    ]
]
CASES += [
    Case("broadcast_to", (x,), (shape,))
    for x, shape in [
        ((), (2, 3)),
        ((1,), ()),  # not a broadcast: filtered below
        ((3,), (2, 3)),
        ((2, 1), (2, 4)),
        ((1, 3, 1), (2, 3, 4)),
        ((4, 1), (4, 0)),
        ((0, 1, 3), (0, 10, 3)),
        ((3, 2), (1, 3, 2)),
    ]
    if len(shape) >= len(x)
]
CASES += [
    Case("sum", (x,), (axis, keepdims))
    for x, axis, keepdims in [
        ((2, 3), None, False),
        ((2, 3), (0,), False),
        ((2, 3), (1,), True),
        ((2, 3, 4), (0, 2), False),
        ((), None, False),
        ((), None, True),
        ((4, 0), (1,), True),
        ((4, 0), None, False),
    ]
]
CASES += [
    Case("transpose", (x,), (axes,))
    for x, axes in [((2, 3), (1, 0)), ((2, 3, 4), (2, 0, 1)), ((), ()), ((4, 0), (1, 0))]
]
CASES += [
    Case("reshape", (x,), (shape,))
    for x, shape in [((2, 3), (3, 2)), ((2, 3), (6,)), ((), (1, 1)), ((6,), (2, 1, 3)), ((4, 0), (0, 4))]
]

CASES += [Case("identity", (s,)) for s in UNARY_SHAPES]
CASES += [Case("astype", (s,), (np.dtype(np.float64),)) for s in UNARY_SHAPES]
# Selections: basic slices, integer arrays with repeats (their gradients add up), boolean masks.
_MASK = np.array([[True, False, True], [False, False, True]])
CASES += [
    Case("getitem", (x,), (index,))
    for x, index in [
        ((4, 3), (slice(1, 3),)),
        ((4, 3), (1,)),
        ((5,), (np.array([0, 2, 2, 4]),)),
        ((2, 3), (_MASK,)),
        ((3, 4), (np.array([0, 2, 0]), np.array([1, 1, 3]))),
        ((3, 4), (slice(None), np.array([3, 0, 3]))),
        ((4, 0), (slice(0, 2),)),
    ]
]
CASES += [
    Case("scatter_add", (g,), (index, shape))
    for g, index, shape in [
        ((2, 3), (slice(1, 3),), (4, 3)),
        ((4,), (np.array([0, 2, 2, 4]),), (5,)),
        ((3,), (_MASK,), (2, 3)),
        ((3,), (np.array([0, 2, 0]), np.array([1, 1, 3])), (3, 4)),
    ]
]
CASES += [
    Case("concatenate", shapes, (axis,))
    for shapes, axis in [
        (((2, 3), (1, 3)), 0),
        (((2, 3), (2, 1), (2, 2)), 1),
        (((3,),), 0),
        (((0, 2), (2, 2)), 0),
    ]
]

# The fused primitives of autograd.fused face the same referees as the core ones.
CASES += [
    Case("linear", shapes)
    for shapes in [
        ((2, 3), (3, 4), (2, 1)),
        ((1, 2), (2, 1), (1, 1)),
        ((3, 2), (2, 4), (3, 4)),
        ((2, 3), (3, 4), (1, 4)),
        ((2, 3), (3, 4), ()),
        ((2, 0), (0, 3), (2, 1)),
    ]
]
CASES += [
    Case("softmax_cross_entropy", shapes)
    for shapes in [((3, 4), (3, 4)), ((1, 2), (1, 2)), ((4, 1), (4, 1))]
]

#: The broadcasting pairs every binary operation must get right.
BROADCAST_PAIRS = [
    ((1,), ()),
    ((2, 1), (2,)),
    ((3, 1, 2), (1, 3, 2)),
    ((1, 3, 2), (3, 2)),
    ((0, 1, 3), (0, 10, 3)),
    ((4, 0), (4, 1)),
    ((), (2, 3)),
]


def _broadcast_cases() -> list[Case]:
    """broadcast_to from each operand of each broadcasting pair to the pair's broadcast shape."""
    cases = []
    for a, b in BROADCAST_PAIRS:
        shape = np.broadcast_shapes(a, b)
        cases += [Case("broadcast_to", (s,), (shape,)) for s in (a, b) if s != shape]
    return cases


#: The shape table with the broadcasting pairs' broadcast_to cases, each case once.
TABLE: list[Case] = list({case.id: case for case in CASES + _broadcast_cases()}.values())


def table_params() -> list:
    """One pytest parameter per case of every registered primitive.

    A primitive with no case becomes a parameter holding its name, which the test must fail:
    a newly registered primitive cannot go untested.
    """
    import pytest

    from autograd import PRIMITIVES

    params = []
    for name in sorted(PRIMITIVES):
        cases = [case for case in TABLE if case.name == name]
        if not cases:
            params.append(pytest.param(name, id=f"{name}[no cases]"))
        params += [pytest.param(case, id=case.id) for case in cases]
    return params
