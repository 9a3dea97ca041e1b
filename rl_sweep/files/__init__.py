"""What the layers hand each other, in one home: the names of the contract's files and a sweep's records
(:mod:`~rl_sweep.files.names`), and their typed shapes with a reader beside each writer: a run's results and
metrics JSON (:mod:`~rl_sweep.files.results`, :mod:`~rl_sweep.files.metrics`), a sweep's trials, summary and
search (:mod:`~rl_sweep.files.sweep`). The run layer writes through it; the sweep and the report read through it.
It imports no layer: every layer can import it."""
