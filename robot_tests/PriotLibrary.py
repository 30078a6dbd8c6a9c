"""Robot Framework keywords over the priot pipeline (rp2040js backend by default).

The emulator run is done once per suite and cached in the library instance, so several
test cases check the same UART report.
"""
from __future__ import annotations

from robot.api import logger
from robot.api.deco import keyword, library

from priot import pipeline
from priot.settings import RunSettings


@library(scope="SUITE")
class PriotLibrary:
    def __init__(self) -> None:
        self.summary: pipeline.Summary | None = None

    @keyword("Run PRIOT In Emulator")
    def run_priot(self, backend: str = "rp2040js", n_train: int = 200, n_test: int = 200,
                  angle: int = 45, timeout: float = 600) -> None:
        """Prepare blobs, build the firmware, run it and parse its UART lines."""
        s = RunSettings(backend=backend, n_train=int(n_train), n_test=int(n_test),
                        angle=float(angle), timeout_s=float(timeout))
        self.summary = pipeline.emulate(s, log=logger.console)
        logger.info(self.summary.format())

    def _summary(self) -> pipeline.Summary:
        if self.summary is None:
            raise AssertionError("no emulator run yet: call 'Run PRIOT In Emulator' first")
        return self.summary

    @keyword("Accuracy Should Be Reported For")
    def accuracy_reported(self, *phases: str) -> None:
        for p in phases:
            if p not in self._summary().evals:
                raise AssertionError(f"no EVAL line for phase {p!r}")

    @keyword("Get Accuracy")
    def get_accuracy(self, phase: str) -> float:
        return self._summary().accuracy(phase)

    @keyword("Accuracy After Training Should Exceed")
    def after_exceeds(self, phase: str, points: float = 0) -> None:
        s = self._summary()
        gain = (s.accuracy("after") - s.accuracy(phase)) * 100
        logger.info(f"after {s.accuracy('after'):.2%} vs {phase} {s.accuracy(phase):.2%}: "
                    f"{gain:+.2f} points")
        if gain <= float(points):
            raise AssertionError(f"accuracy after PRIOT exceeds {phase} by {gain:.2f} points, "
                                 f"expected more than {points}")

    @keyword("Cycles Per Training Sample Should Be Below")
    def train_cycles_below(self, budget: int) -> None:
        c = self._summary().cycles_per_train_sample
        logger.info(f"{c:,.0f} cycles per training sample (budget {int(budget):,})")
        if c > int(budget):
            raise AssertionError(f"{c:,.0f} cycles per training sample exceed {int(budget):,}")

    @keyword("Cycles Per Inference Should Be Below")
    def infer_cycles_below(self, budget: int) -> None:
        c = self._summary().cycles_per_inference
        logger.info(f"{c:,.0f} cycles per inference (budget {int(budget):,})")
        if c > int(budget):
            raise AssertionError(f"{c:,.0f} cycles per inference exceed {int(budget):,}")

    @keyword("Emulator And Host Build Should Agree")
    def host_agrees(self) -> None:
        s = self._summary()
        if not s.host_agrees:
            raise AssertionError("emulator and host build differ: "
                                 + "; ".join(s.host_differences or ["no host run"]))
