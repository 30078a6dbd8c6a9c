"""numpy reference implementation of docs/SEMANTICS.md (the specification in code).

Everything here is integer arithmetic on numpy int64 arrays, written for clarity; the C
kernels in firmware/priot/ must agree with it bit for bit (tests/test_native_vs_reference.py).
One module per method beside the shared operations:

* ``ops``: saturation, rounding shifts, forward / backward ops, softmax error, evaluation;
* ``scores``: PRIOT and PRIOT-S (scores, subsets, masks);
* ``sgd``: static-scale SGD on the weights;
* ``niti``: NITI's dynamic scales.

Every public name of them is importable from here (``reference.compute_mask``), and
``run`` dispatches a whole session to the module of the config's method.

Conventions:
* activations are int8 values held in int64 arrays (CHW, optionally with a leading batch
  axis); weights ``layer.weights`` are int8 shaped (out_c, in_c, 3, 3) or (out, in);
* ``masks`` is a list with one bool array per layer shaped like the layer's weights, or
  ``None`` for the frozen model (every edge kept);
* ``scores`` is a list with one int16 array per layer shaped like the layer's weights.
"""
from __future__ import annotations

from .. import methods
from ..blob import DatasetBlob, QuantModel, RunConfig
from . import niti, ops, scores, sgd
from .niti import (bias_rescale, dynamic_error, dyn_shift, forward_dynamic,  # noqa: F401
                   logits_to_static, niti_step, predict_dynamic)
from .ops import (EXP_TABLE, INT32_MAX, INT32_MIN, argmax_first, backward,  # noqa: F401
                  conv_acc, conv_error_acc, conv_score_grad, effective_weights,
                  error_backward, evaluate, exp_table, fc_acc, fc_error_acc, fc_score_grad,
                  forward_logits, forward_saved, gradient_shift, input_from_pixels,
                  layer_forward, maxpool, maxpool_backward, predict, psto_shift,
                  relu_backward, round_shift, sat8, sat16,
                  score_grad, softmax_error, softmax_probs_q15, weights_crc, wrap32)
from .scores import (XorShift32, compute_mask, compute_masks, init_scores,  # noqa: F401
                     magnitude_subset, n_keep, score_crc, score_update, scored_subsets,
                     subset_indices, subset_size, train_step)
from .sgd import sgd_step, weight_update  # noqa: F401

# the module that runs each method's session (methods.METHODS holds the same names)
SESSIONS = {methods.PRIOT.name: scores, methods.PRIOT_S.name: scores,
            methods.STATIC_SGD.name: sgd, methods.NITI.name: niti}
assert set(SESSIONS) == set(methods.METHODS), "every method needs its reference session"


def run(model: QuantModel, dataset: DatasetBlob, config: RunConfig) -> dict:
    """The whole priot_run flow: eval frozen -> eval before -> train -> eval after -> CRC."""
    try:
        method = methods.by_code(config.method)
    except methods.UnknownMethod as exc:
        raise ValueError(str(exc)) from None
    return SESSIONS[method.name].run(model, dataset, config)
