"""Many runs at once on Ray: each run a Ray Tune trial of :class:`~rl_sweep.sweep.trainable.RunTrainable`
driving the same engine as ``rl-train``.

:mod:`~rl_sweep.sweep.options` (what a sweep is, its trials and their records), :mod:`~rl_sweep.sweep.cluster`
(Ray start-up and Tune's run settings), :mod:`~rl_sweep.sweep.runner` (a seed sweep),
:mod:`~rl_sweep.sweep.search` (a hyperparameter search), :mod:`~rl_sweep.sweep.progress` (the live display),
:mod:`~rl_sweep.sweep.cli` (``rl-sweep``). Only this layer imports Ray.
"""
