"""How many output errors the backward pass gets, per layer and method: the work of the
sparse backward kernels, whose cost is per non-zero error (docs/performance.md).

The numpy reference (priot.core.reference, the specification the firmware matches bit for
bit) runs each method's session on the same samples; every output error e_out (after the
pool routing and the ReLU mask) is counted: its non-zero elements and its live rows
(output channels, or fc outputs, with any non-zero error; silent rows are skipped by the
gradient and update). Means per training sample.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np


def measure(blobs) -> dict:
    """{"layers": [{"nonzero": mean, "size": n, "live_rows": mean, "rows": n}, ...]} of one
    session (a pipeline.Blobs), first layer first."""
    from ..core import blob
    from ..core import reference
    from ..core.reference import ops

    seen = defaultdict(list)

    def observe(li, e_out):
        e = np.asarray(e_out)
        rows = e.reshape(e.shape[0], -1) if e.ndim > 1 else e.reshape(-1, 1)
        seen[li].append((int(np.count_nonzero(e)), e.size,
                         int(np.count_nonzero(rows.any(axis=1))), rows.shape[0]))

    with ops.observing_errors(observe):
        reference.run(blob.decode_model(blobs.model), blob.decode_dataset(blobs.dataset),
                      blob.decode_config(blobs.config))
    return {"layers": [{"nonzero": float(np.mean([v[0] for v in seen[li]])),
                        "size": seen[li][0][1],
                        "live_rows": float(np.mean([v[2] for v in seen[li]])),
                        "rows": seen[li][0][3]} for li in sorted(seen)]}


def format_line(method: str, d: dict) -> str:
    return (f"  {method:<11} " + "  ".join(
        f"{e['nonzero']:.0f}/{e['size']} ({e['live_rows']:.1f}/{e['rows']} rows)"
        for e in d["layers"]))
