"""One training run of the contract: configuration, engine, checkpoints, metrics, results, evaluation.

Read it in the order a run lives: :mod:`~rl_sweep.run.config` (what to run), :mod:`~rl_sweep.run.engine`
(the run itself, driven by :mod:`~rl_sweep.run.cli` and by the sweep's trainable), and the modules it
calls: environments, algorithms, stepper, checkpoints, resume, metrics, evaluation, results. Nothing here
imports Ray, rliable or matplotlib.
"""
