"""The comparison report: runs loaded from their contract files (:mod:`~rl_sweep.report.runs`), the
statistics of Agarwal et al. through rliable (:mod:`~rl_sweep.report.statistics`), on scores normalised
across environments (:mod:`~rl_sweep.report.normalisation`), at the common budget when the runs' budgets differ
(:mod:`~rl_sweep.report.budgets`), a one-round AdaStop test at the seeds there are when no sweep decided
(:mod:`~rl_sweep.decision.one_round`), the figures (:mod:`~rl_sweep.report.plots`), the replays of the best, median
and worst seeds' final policies (:mod:`~rl_sweep.report.replays`),
the conclusions in words (:mod:`~rl_sweep.report.verdict`), each environment's part
(:mod:`~rl_sweep.report.environment`), the document's sections (:mod:`~rl_sweep.report.sections`, made of
:mod:`~rl_sweep.report.blocks`) and the command that reproduces the runs (:mod:`~rl_sweep.report.reproduce`), the
document written (:mod:`~rl_sweep.report.document`; a sweep's runs read from its storage by
:mod:`~rl_sweep.report.stored_runs`) and ``rl-report`` (:mod:`~rl_sweep.report.cli`). Only this layer imports
rliable and matplotlib.
"""
