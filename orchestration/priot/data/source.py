"""What a data source loader returns: training images, and the source's own test split."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class SourceImages:
    """A source's images, with its own test split kept apart when it has one."""
    train_x: np.ndarray          # uint8 (N, C, H, W)
    train_y: np.ndarray
    test_x: np.ndarray | None    # the source's test files (MNIST t10k-*, CIFAR-10
    test_y: np.ndarray | None    # test_batch, an image folder's test/), or None
    sha: str                     # sha256 over what was read (cache keys, provenance)
    info: dict                   # per-file facts; "train_files" / "test_files": names

    def split_files(self) -> dict[str, list[str]]:
        """Which files each prepared split comes from."""
        train = self.info["train_files"]
        test = self.info["test_files"] if self.test_x is not None else train
        return {"pretrain": train, "device_train": train, "test": test}
