"""vecgrad's autograd: a reverse- and forward-mode automatic differentiation engine on NumPy."""

from .anomaly import detect_anomaly
from .backward import gradients
from .checks import gradcheck
from .compile import compile
from .functional import grad, hessian, hvp, jacfwd, jacrev, jvp, value_and_grad, vjp
from .fused import linear, softmax_cross_entropy
from .ops import concatenate, maximum, minimum, stack, where
from .primitives import PRIMITIVES, Primitive
from .state import enable_grad, is_grad_enabled, name_scope, no_grad, set_grad_enabled
from .tensor import Tensor, apply, matmul

__all__ = [
    "compile",
    "concatenate",
    "maximum",
    "minimum",
    "stack",
    "where",
    "grad",
    "gradcheck",
    "gradients",
    "hessian",
    "hvp",
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
    "set_grad_enabled",
]
