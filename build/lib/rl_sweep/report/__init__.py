"""The comparison report: runs loaded from their contract files (:mod:`~rl_sweep.report.runs`), the
statistics of Agarwal et al. through rliable (:mod:`~rl_sweep.report.statistics`), the figures
(:mod:`~rl_sweep.report.plots`), the document (:mod:`~rl_sweep.report.document`) and ``rl-report``
(:mod:`~rl_sweep.report.cli`). Only this layer imports rliable and matplotlib.
"""
