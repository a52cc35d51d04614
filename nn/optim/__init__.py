"""Optimizers and learning-rate schedules, with PyTorch's names, update formulas and state dicts.

``SGD`` (momentum, dampening, Nesterov, L2 weight decay), ``Adam`` (L2 weight decay added to the
gradient, AMSGrad), ``AdamW`` (decoupled weight decay) and, in :mod:`nn.optim.lr_scheduler`,
``StepLR``, ``ExponentialLR``, ``CosineAnnealingLR`` and ``LambdaLR``.
"""

from . import lr_scheduler
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "lr_scheduler"]
