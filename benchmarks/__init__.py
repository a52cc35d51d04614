"""vecgrad's benchmarks: the engine against NumPy written by hand, and against its peers.

Run ``python -m benchmarks`` (see README.md). Importing the package pins every thread pool to
one thread first, so this must happen before NumPy is imported.
"""

from . import threads  # noqa: F401  (sets the thread variables before anything loads NumPy)
