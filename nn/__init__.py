"""vecgrad's nn: feedforward networks assembled from the autograd engine's primitives.

Examples are columns: a batch is ``X`` of shape ``(n_features, m)`` and a layer computes
``Z = W @ A_prev + b`` with ``W`` of shape ``(n_out, n_in)`` and ``b`` of shape ``(n_out, 1)``.
"""

import os as _os

from autograd import anomaly as _anomaly

from . import data, init, optim
from .activations import log_softmax, relu, sigmoid, softmax, tanh
from .containers import ModuleDict, ModuleList
from .dropout import Dropout
from .layers import MLP, Linear, ReLU, Sigmoid, Softmax, Tanh
from .losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    categorical_cross_entropy,
    cross_entropy,
    softmax_cross_entropy,
)
from .module import Module, Sequential

# Anomaly mode reports a node made inside nn with nn's line and the user's line that called it.
_anomaly.register_library(_os.path.dirname(_os.path.abspath(__file__)))

__all__ = [
    "MLP",
    "Dropout",
    "Linear",
    "Module",
    "ModuleDict",
    "ModuleList",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "categorical_cross_entropy",
    "cross_entropy",
    "data",
    "init",
    "log_softmax",
    "optim",
    "relu",
    "sigmoid",
    "softmax",
    "softmax_cross_entropy",
    "tanh",
]
