"""The decision, in one place: is one algorithm better than another, at a stated family-wise error?

- :mod:`~rl_sweep.decision.adastop`: the test, AdaStop through the ``adastop`` package at its corrected level, and
  :func:`decide`, the one entry point where every decision is made; the decision in words.
- :mod:`~rl_sweep.decision.rounds`: ``rl-sweep --until-decided``'s rounds of seeds: which seeds a round trains,
  what the test compares after it, and what the next round needs (the sweep layer runs them on Ray:
  :mod:`rl_sweep.sweep.rounds`).
- :mod:`~rl_sweep.decision.one_round`: the same test at a fixed number of seeds, for the report.
"""

from rl_sweep.decision.adastop import (
    METHOD, DecidedComparison, DecisionSettings, EnvironmentDecision, decide, decision_document, grouped, level,
    pairs_of, sentence,
)

__all__ = ["METHOD", "DecidedComparison", "DecisionSettings", "EnvironmentDecision", "decide", "decision_document",
           "grouped", "level", "pairs_of", "sentence"]
