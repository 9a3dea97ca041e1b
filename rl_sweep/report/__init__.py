"""The comparison report: runs loaded from their contract files (:mod:`~rl_sweep.report.runs`), the
statistics of Agarwal et al. through rliable (:mod:`~rl_sweep.report.statistics`), on scores normalised
across environments (:mod:`~rl_sweep.report.normalisation`), at the common budget when the runs' budgets differ
(:mod:`~rl_sweep.report.budgets`), a one-round AdaStop test at the seeds there are when no sweep decided
(:mod:`~rl_sweep.decision.one_round`), the figures (:mod:`~rl_sweep.report.plots`), the replays of the best, median
and worst seeds' final policies (:mod:`~rl_sweep.report.replays`),
the conclusions in words (:mod:`~rl_sweep.report.verdict`), the document (:mod:`~rl_sweep.report.document`,
made of :mod:`~rl_sweep.report.blocks`) and ``rl-report`` (:mod:`~rl_sweep.report.cli`). Only this layer
imports rliable and matplotlib.
"""
