"""vecgrad's autograd: a reverse- and forward-mode automatic differentiation engine on NumPy."""

from .anomaly import detect_anomaly
from .checks import gradcheck
from .functional import grad, jacfwd, jacrev, jvp, value_and_grad, vjp
from .fused import linear, softmax_cross_entropy
from .primitives import PRIMITIVES, Primitive
from .state import enable_grad, is_grad_enabled, name_scope, no_grad
from .tensor import Tensor, apply, matmul

__all__ = [
    "grad",
    "gradcheck",
    "jacfwd",
    "jacrev",
    "jvp",
    "linear",
    "softmax_cross_entropy",
    "value_and_grad",
    "vjp",
    "PRIMITIVES",
    "Primitive",
    "Tensor",
    "apply",
    "detect_anomaly",
    "enable_grad",
    "is_grad_enabled",
    "matmul",
    "name_scope",
    "no_grad",
]
