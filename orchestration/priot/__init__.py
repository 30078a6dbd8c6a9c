"""priot: pruning-based integer-only transfer learning for the RP2040."""
__version__ = "0.1.0"
