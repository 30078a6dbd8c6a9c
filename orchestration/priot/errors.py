"""Error types raised by modules on more than one layer (so neither imports the other)."""
from __future__ import annotations


class DataError(ValueError):
    """Input data is missing or malformed; the message names the file and the problem."""


class ModelError(ValueError):
    """A user's model is not a layer chain the integer engine runs (or cannot be loaded);
    the message names the layer and what is supported."""
