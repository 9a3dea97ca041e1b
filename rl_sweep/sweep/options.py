"""What a sweep or a search is made of, and the trials it runs.

Everything here is plain data (no Ray): the options stored in ``sweep.json``, in small parts (what to run, how
each run runs, where and how many at once, the search, the decision, the report), and each trial's run
configuration resolved on the driver (so that a trial needs no preset file on its node) with the folder its files
go to in storage. What Tune makes of a trial, and the record it leaves, is :mod:`rl_sweep.sweep.records`.

A sweep's files, under ``--results-dir`` (a local folder or a storage URI)::

    sweeps/{name}/sweep.json, summary.json, report.md, report.html, *.png
    sweeps/{name}/{algo}_seed{seed}/      each trial's contract files (a search: trials/{algo}_s{setting}_seed{seed}/)
    sweeps/{name}/{env}/{algo}_seed{seed}/  the same, for a sweep of several environments ({env}: env_folder)
    sweeps/{name}/[{env}/]{variant}/{algo}_seed{seed}/  the same, for a sweep of named variants (--variants)
    sweeps/{name}/tune/                   Ray Tune's experiment state and checkpoints (a search: tune_{algo}/)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from rl_sweep.decision import DecisionSettings
from rl_sweep.decision.rounds import round_seeds
from rl_sweep.errors import ConfigError
from rl_sweep.identity import env_folder, experiment_id
from rl_sweep.presets import DEFAULT_ENV, DEFAULT_PRESET
from rl_sweep.run.config import ALGORITHMS, DEFAULT_CONDA_ENV, DEFAULT_EVAL_EPISODES, DEFAULT_SEED, TrainingConfig
from rl_sweep.storage import Storage, sweep_folder
from rl_sweep.sweep import records
from rl_sweep.sweep.variants import Variant, check_variants, plain

# A sweep's Tune state (tuner.pkl) names the trials' name and folder functions where rl-sweep 0.1 defined them, here:
# a sweep it wrote resumes only while they can be found here.
trial_name, trial_dirname = records.trial_name, records.trial_dirname

SEEDS = 5  # seeds per algorithm unless --seeds says: one run against one run decides nothing
SEARCH_SEEDS = 1  # seeds per setting of a search unless --seeds says: a cheap ranking, its best checked on SEEDS
SEARCH_SEED_RANGE = (1_000, 1_000_000)  # a search's and a tuning's seeds are drawn here, away from the sweeps' 42...
TUNING_SEEDS = 2  # seeds per setting of --tune unless --tuning-seeds says
RESULTS_DIR = "results"
MAX_FAILURES = 2


@dataclass
class TrialGrid:
    """What to run: every environment x variant x seed (a search: x setting). ``variants`` default to one per
    algorithm of ``algos`` (``--algos``); given, ``algos`` are theirs."""

    algos: list[str] = field(default_factory=lambda: list(ALGORITHMS))
    seeds: int = SEEDS  # per variant; with --until-decided, the rounds choose
    seed_start: int = DEFAULT_SEED
    envs: list[str] = field(default_factory=lambda: [DEFAULT_ENV])
    env_kwargs: dict[str, Any] = field(default_factory=dict)  # given to every environment
    variants: list[Variant] = field(default_factory=list)  # sweep.json: a list of objects; absent before variants
    baseline: str | None = None  # --baseline: each variant is compared with this one only; None: every pair
    # --tune's deciding phase: each environment's variants' chosen values, on top of their own (not in sweep.json:
    # read from tuning.json)
    tuned: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.variants = [Variant(**v) if isinstance(v, dict) else v for v in self.variants] or plain(self.algos)
        check_variants(self.variants)
        self.algos = list(dict.fromkeys(v.algo for v in self.variants))

    @property
    def names(self) -> list[str]:
        """The variants' names, in the order the sweep and its report name them."""
        return [v.name for v in self.variants]

    @property
    def named(self) -> bool:
        """Whether the runs go in a folder per variant: not when every variant is an algorithm on the sweep's preset
        (``--algos``), whose runs keep the layout of sweeps before variants."""
        return not all(v.plain for v in self.variants)

    def variant(self, name: str) -> Variant:
        return next(v for v in self.variants if v.name == name)


@dataclass
class RunSettings:
    """How each run runs: the contract's options of ``rl-train`` that a sweep gives every trial."""

    preset: str = DEFAULT_PRESET
    timesteps: int | None = None  # None: each algorithm's preset default
    checkpoint_interval: int | None = None  # None: each algorithm's preset default
    eval_episodes: int = DEFAULT_EVAL_EPISODES
    fast_numerics: bool = False
    conda_env: str = DEFAULT_CONDA_ENV


@dataclass
class ClusterSettings:
    """Where the files go and how many trials run at once."""

    results_dir: str = RESULTS_DIR  # a local folder (absolute) or a storage URI
    cpus_per_trial: float = 1.0
    max_concurrent: int | None = None  # None: as many as the cluster's CPUs allow
    max_failures: int = MAX_FAILURES  # restarts of a failed trial from its last checkpoint
    py_modules: list[str] = field(default_factory=list)  # folders of the user's packages, shipped to a cluster
    speculate: bool = True  # --until-decided: the next round's seeds on CPUs that would idle (rl_sweep.sweep.speculation)


@dataclass
class SearchSettings:
    """``--search``: how many settings per algorithm (0: no search), and whether ASHA stops trailing trials;
    ``--tune``: how many settings per variant (0: no tuning) on how many tuning seeds, before deciding."""

    settings: int = 0  # sweep.json's "search"
    early_stopping: bool = True
    tune: int = 0
    tuning_seeds: int = TUNING_SEEDS


@dataclass
class ReportSettings:
    """What the report at the sweep's end holds besides its numbers."""

    replays: bool = True  # videos of the best, median and worst seed (--no-replays: none)


@dataclass
class SweepOptions:
    """Everything a sweep is made of, in small parts; stored in ``sweep.json`` (its keys flat, as every release
    wrote them: :meth:`to_json`, :meth:`from_json`) so that ``--resume`` needs only the name."""

    name: str = ""
    trials: TrialGrid = field(default_factory=TrialGrid)
    runs: RunSettings = field(default_factory=RunSettings)
    cluster: ClusterSettings = field(default_factory=ClusterSettings)
    search: SearchSettings = field(default_factory=SearchSettings)
    decision: DecisionSettings | None = None  # --until-decided: rounds of seeds until AdaStop decides
    report: ReportSettings = field(default_factory=ReportSettings)
    command: str = ""  # the command line that started the sweep

    def __post_init__(self) -> None:
        folders: dict[str, str] = {}
        for env in self.trials.envs:
            other = folders.setdefault(env_folder(env), env)
            if other != env:
                raise ConfigError(f"--envs {other} and {env} would share the folder {env_folder(env)}: "
                                  "run them in separate sweeps")
        if len(folders) < len(self.trials.envs):
            raise ConfigError(f"--envs names an environment twice: {' '.join(self.trials.envs)}")
        if self.trials.baseline is not None and self.trials.baseline not in self.trials.names:
            raise ConfigError(f"--baseline {self.trials.baseline} is not one of the variants compared: "
                              f"{' '.join(self.trials.names)}")
        if self.trials.baseline is not None and len(self.trials.variants) < 3:
            raise ConfigError("--baseline compares each of three variants or more with one: with two, every pair is "
                              "the one pair already")
        if self.search.settings and len(self.trials.envs) > 1:
            raise ConfigError("--search takes one environment (--env ID), not several")
        if self.search.tune:
            self._check_tuning()
        if self.decision is not None:
            if self.search.settings:
                raise ConfigError("--until-decided decides a comparison of algorithms; it does not take --search")
            if len(self.trials.variants) < 2:
                raise ConfigError("--until-decided compares variants: give two or more with --algos or --variants")

            if self.decision.seeds_per_round < 2:
                raise ConfigError(f"--seeds-per-round must be 2 or more, not {self.decision.seeds_per_round}")
            if self.decision.max_rounds < 1:
                raise ConfigError(f"--max-rounds must be 1 or more, not {self.decision.max_rounds}")
            if not 0 < self.decision.alpha < 1:
                raise ConfigError(f"--alpha must be between 0 and 1, not {self.decision.alpha}")

    def _check_tuning(self) -> None:
        tune, grid = self.search.tune, self.trials
        if tune < 2:
            raise ConfigError(f"--tune must be 2 or more settings per variant (the preset's own and samples), not {tune}")
        if self.search.settings:
            raise ConfigError("give --tune (tune every variant, then decide) or --search (search one), not both")
        if len(grid.variants) < 2:
            raise ConfigError("--tune gives every variant the same tuning budget, then decides between them: give two "
                              "or more with --algos or --variants")
        if self.search.tuning_seeds < 1:
            raise ConfigError(f"--tuning-seeds must be 1 or more, not {self.search.tuning_seeds}")
        if self.decision is None:
            raise ConfigError("--tune decides between the tuned variants with --until-decided: add it")
        deciding = range(grid.seed_start, grid.seed_start + self.decision.seeds_per_round * self.decision.max_rounds)
        overlap = sorted(set(self.tuning_seeds()) & set(deciding))
        if overlap:
            raise ConfigError(f"tuning seed(s) {' '.join(map(str, overlap))} would also decide (seeds "
                              f"{deciding.start}..{deciding.stop - 1}): give another --seed-start")

    def tuning_seeds(self) -> list[int]:
        """The seeds every setting of ``--tune`` trains on: ``tuning_seeds`` draws from ``SEARCH_SEED_RANGE``."""
        return search_seeds(self.search.tuning_seeds, self.trials.seed_start)

    def to_json(self) -> dict[str, Any]:
        """``sweep.json``: every part's fields as one flat object, under the keys every release wrote (but a
        tuned sweep's chosen values, which its ``tuning.json`` holds)."""
        search = asdict(self.search)
        trials = asdict(self.trials)
        del trials["tuned"]
        return {**trials, **asdict(self.runs), **asdict(self.cluster), "name": self.name,
                "search": search.pop("settings"), **search, "until_decided": self.decision is not None,
                **asdict(self.decision or DecisionSettings()), **asdict(self.report), "command": self.command}

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> SweepOptions:
        """The options a ``sweep.json`` holds (or the same keys given by hand); one written before sweeps had
        several environments names its one environment ``env_name``. A key it lacks takes its default, but for
        ``speculate``: a sweep written before speculation ran one Tune run per round, and resumes so."""
        values = dict(values)
        values.setdefault("speculate", False)  # a sweep written before speculation ran one Tune run per round
        if "env_name" in values:
            values["envs"] = [values.pop("env_name")]
        if "search" in values:
            values["settings"] = values.pop("search")

        def part(kind: type) -> Any:
            return kind(**{f.name: values[f.name] for f in fields(kind) if f.name in values})

        return cls(name=values.get("name", ""), trials=part(TrialGrid), runs=part(RunSettings),
                   cluster=part(ClusterSettings), search=part(SearchSettings),
                   decision=part(DecisionSettings) if values.get("until_decided") else None,
                   report=part(ReportSettings), command=values.get("command", ""))

    @property
    def env_name(self) -> str:
        """The environment of a sweep of one (a search's)."""
        return self.trials.envs[0]

    @property
    def storage(self) -> Storage:
        return Storage(self.cluster.results_dir)

    def folder(self, *parts: str) -> str:
        """A path under the sweep's folder, ``sweeps/{name}/...``, as storage names it."""
        return "/".join([sweep_folder(self.name), *parts])

    def trial_config(self, name: str, run: TrainingConfig) -> dict[str, Any]:
        """What Tune's trial ``name`` of this sweep holds (:func:`~rl_sweep.sweep.records.trial_config`): ``run``,
        its files in the sweep's folder ``name``."""
        return records.trial_config(run, self.folder(name), name=name)

    def run_config(self, variant: Variant | str, seed: int, folder: str, overrides: dict[str, Any] | None = None,
                   env_name: str | None = None) -> TrainingConfig:
        """One trial's run, validated, its preset resolved here (on the driver) for its environment (the
        sweep's first by default): ``variant``'s (a variant of the sweep's, or its name), with a search trial's
        ``overrides`` on top. Its output folder is ``folder`` on a local storage; a trial on remote storage writes
        to a staging folder of its own node (see :class:`~rl_sweep.sweep.trainable.RunTrainable`)."""
        if isinstance(variant, str):
            variant = self.trials.variant(variant)
        storage = self.storage
        output_dir = storage.local_path(folder) if storage.is_local else Path(folder)
        runs = self.runs
        return TrainingConfig(algo=variant.algo, seed=seed, env_name=env_name or self.env_name,
                              env_kwargs=self.trials.env_kwargs, total_timesteps=runs.timesteps,
                              checkpoint_interval=runs.checkpoint_interval, eval_episodes=runs.eval_episodes,
                              conda_env=runs.conda_env, output_dir=output_dir, preset=variant.preset or runs.preset,
                              overrides={**variant.overrides,
                                         **self.trials.tuned.get(env_name or self.env_name, {}).get(variant.name, {}),
                                         **(overrides or {})} or None,
                              fast_numerics=runs.fast_numerics, variant=variant.name)

    def trial_name(self, env_name: str, variant: str, seed: int) -> str:
        """A seed-sweep trial's name and folder under the sweep's: ``{algo}_seed{seed}``; ``{variant}/`` before it
        in a sweep of named variants, and ``{env}/`` before that in a sweep of several environments."""
        chosen = self.trials.variant(variant)
        parts = [env_folder(env_name)] if len(self.trials.envs) > 1 else []
        return "/".join([*parts, *([chosen.name] if self.trials.named else []), experiment_id(chosen.algo, seed)])

    def sweep_runs(self) -> list[tuple[str, TrainingConfig]]:
        """The trials of a seed sweep, each as its name and run: every environment, variant and seed."""
        grid = self.trials
        return self._runs({env: grid.names for env in grid.envs}, range(grid.seed_start, grid.seed_start + grid.seeds))

    def round_runs(self, k: int, needed: dict[str, list[str]]) -> list[tuple[str, TrainingConfig]]:
        """The trials of round ``k`` (from 1) of ``--until-decided``: the round's ``seeds_per_round`` seeds, after
        the earlier rounds', of the variants each environment still ``needed``."""
        return self._runs(needed, round_seeds(k, self.trials.seed_start, self.decision or DecisionSettings()))

    def _runs(self, variants_by_env: dict[str, list[str]], seeds: range) -> list[tuple[str, TrainingConfig]]:
        trials = []
        for env, variants in variants_by_env.items():
            for variant in variants:
                for seed in seeds:
                    name = self.trial_name(env, variant, seed)
                    trials.append((name, self.run_config(variant, seed, self.folder(name), env_name=env)))
        return trials


def search_seeds(count: int, random_state: int) -> list[int]:
    """The seeds every setting of a search or a tuning trains on: ``count`` distinct draws from
    ``SEARCH_SEED_RANGE``, reproducible from ``random_state``."""
    import numpy as np

    rng = np.random.default_rng(random_state)
    return sorted(int(seed) for seed in rng.choice(np.arange(*SEARCH_SEED_RANGE), size=count, replace=False))
