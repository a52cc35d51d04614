"""vecgrad's autograd: a reverse- and forward-mode automatic differentiation engine on NumPy."""

from .primitives import PRIMITIVES, Primitive
from .state import enable_grad, is_grad_enabled, name_scope, no_grad
from .tensor import Tensor, apply, matmul

__all__ = [
    "PRIMITIVES",
    "Primitive",
    "Tensor",
    "apply",
    "enable_grad",
    "is_grad_enabled",
    "matmul",
    "name_scope",
    "no_grad",
]
