"""Regenerate the README's pictures of a two-layer network: its graph and its backward pass.

    python docs/make_pictures.py [OUT_DIR]     # default: the docs/ folder

writes ``graph_forward.svg`` and ``graph_backward.svg``. The network is ``nn.MLP([3, 4, 1])``
(``Z1 = W1 X + b1``, ``A1 = relu(Z1)``, ``Z2 = W2 A1 + b2``) on a batch of ``m = 8`` columns,
with the binary cross-entropy computed from the logits ``Z2``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import nn
from autograd import Tensor, name_scope, viz

HERE = Path(__file__).resolve().parent


def two_layer_loss(seed: int = 0) -> Tensor:
    """The cost J of a 3 -> 4 -> 1 ReLU network on 8 random examples (columns)."""
    rng = np.random.default_rng(seed)
    model = nn.MLP([3, 4, 1], rng=rng)
    x = Tensor(rng.normal(size=(3, 8)).astype(np.float32), name="X")
    y = Tensor((rng.random((1, 8)) > 0.5).astype(np.float32), name="Y")
    z = model(x)
    with name_scope("loss"):
        return nn.binary_cross_entropy_with_logits(z, y)


def main(out_dir: str | Path = HERE) -> list[str]:
    """Write the forward and the backward picture into ``out_dir``; return their paths."""
    out_dir = Path(out_dir)
    loss = two_layer_loss()
    title = "J = binary_cross_entropy_with_logits(MLP([3, 4, 1])(X), Y)"
    forward = viz.render(loss, out_dir / "graph_forward", format="svg", title=title)
    with viz.record_gradients() as flow:
        loss.backward()
    backward = viz.render(loss, out_dir / "graph_backward", format="svg", backward=True, gradients=flow)
    return [forward, backward]


if __name__ == "__main__":
    for path in main(*sys.argv[1:]):
        print(path)
