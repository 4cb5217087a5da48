"""dreamer_lite: Dreamer ("Dream to Control", Hafner et al., ICLR 2020) in small, tested PyTorch.

Import what you need from its modules, e.g. ``from dreamer_lite.config import Config``. Importing
the package has no side effects: rendering is set up only when an environment is made.
"""

__version__ = "0.1.0"
