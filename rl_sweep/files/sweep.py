"""A sweep's records, typed: each trial's record, ``summary.json``, ``search.json``, the AdaStop ``decision``, and
the report's ``comparison.json``. The sweep layer writes them (:mod:`rl_sweep.sweep.records`,
:mod:`rl_sweep.sweep.runner`, :mod:`rl_sweep.sweep.search`, :mod:`rl_sweep.decision`), the report reads them.
The keys are an interface: sweeps written by earlier releases still resume and report, so keys are added, never
renamed."""

from __future__ import annotations

from typing import Any, Optional, TypedDict

from rl_sweep.files.status import SweepStatus, TrialStatus


class TrialRecord(TypedDict):
    """One trial, as ``summary.json`` and ``search.json`` list it."""

    trial: Optional[str]  # its name: ppo_seed42, CartPole-v1/ppo_seed42, ppo_s01_seed1234 in a search
    env: Optional[str]
    env_kwargs: dict[str, Any]
    algo: Optional[str]
    variant: Optional[str]  # what the sweep compares it as: its algorithm, or a --variants name (absent before them)
    seed: Optional[int]
    setting: Optional[int]  # a search trial's setting
    overrides: dict[str, Any]  # a search trial's values in place of its preset's
    status: TrialStatus
    timesteps: int
    training_reward: Optional[float]  # the training return of its last episodes (stochastic policy)
    final_reward_mean: Optional[float]  # its final evaluation (greedy policy)
    final_reward_std: Optional[float]
    converged: Optional[bool]
    wall_time_seconds: Optional[float]
    ended: Optional[float]  # when it last reported, Unix seconds (absent in records of rl-sweep 0.1)
    experiment_dir: Optional[str]  # its contract files: a local folder or a storage URI
    folder: Optional[str]  # the same, under the results location
    error: Optional[str]  # a failed trial's error, one line


def variant_of(trial: TrialRecord) -> Optional[str]:
    """What a trial is compared as: its variant, or in records written before variants its algorithm."""
    return trial.get("variant") or trial["algo"]


class DecidedComparison(TypedDict):
    """One pair of a decision: ``larger``, ``smaller`` or ``equal`` from the first's side, and the round that
    decided it."""

    env: str
    first: str
    second: str
    decision: str
    round: int


class DecisionDocument(TypedDict):
    """``summary.json``'s ``decision`` (``--until-decided``), and the one-round tests of the report."""

    method: str  # AdaStop
    alpha: float  # the family-wise error the decision holds
    comparator_alpha: float  # what adastop's comparator was given (absent in decisions of rl-sweep 0.1)
    pairs: int  # the comparisons the family-wise error covers (absent before variants: every pair)
    baseline: Optional[str]  # the variant every other is compared with; None: every pair (absent before variants)
    seeds_per_round: int
    max_rounds: int
    permutations: int
    comparator_seed: int
    rounds: int
    comparisons: list[DecidedComparison]


class Utilisation(TypedDict):
    """How busy a sweep kept its CPUs, from its first trial's start to its last trial's end."""

    cpus: float  # the cluster's
    wall_seconds: float  # from the first trial's start to the last trial's end
    trial_cpu_seconds: float  # the needed trials' wall times times the CPUs each reserved
    not_needed_cpu_seconds: float  # the same of speculative trials the decision did not need: waste
    value: float  # trial_cpu_seconds / (cpus x wall_seconds)


class ComparisonDocument(TypedDict, total=False):
    """``comparison.json`` (and ``summary.json``'s ``report``): every number the report shows. One environment's
    numbers are at its top (``EnvironmentReport.numbers`` in :mod:`rl_sweep.report.environment` gives their keys:
    ``environment``, ``algorithms``, ``probability_of_improvement``, ``verdict``, ``runs``, ...); several
    environments' are under ``environments``, beside ``across_environments``."""

    environments: dict[str, dict[str, Any]]  # several environments: each one's numbers
    across_environments: dict[str, Any]  # several environments: the normalised aggregates and their verdict
    decision: dict[str, Any]  # the sweep's DecisionDocument, or the one-round tests (one_round, environments)
    lead: list[str]  # the report's first paragraphs, in words
    command: str  # the command that runs the report's runs again
    versions: dict[str, str]
    generated: str  # UTC time
    utilisation: Utilisation  # a sweep's, when it says
    tuning: dict[str, Any]  # --tune: the budget, each variant's tuning scores, chosen setting and fresh-seed score


class SummaryDocument(TypedDict, total=False):
    """``summary.json``: every trial's record in the order of ``--algos`` and seeds, the sweep's status, its
    options as ``sweep.json`` holds them; ``decision`` with ``--until-decided``, ``report`` once the report is
    written (the report's numbers, as ``comparison.json`` holds them)."""

    sweep: str
    status: SweepStatus
    command: str
    started: str
    finished: str
    options: dict[str, Any]
    trials: list[TrialRecord]
    decision: DecisionDocument
    tuning: TuningDocument  # --tune: the first phase, which chose the settings the trials decide between
    utilisation: Utilisation
    report: ComparisonDocument


class TunedVariant(TypedDict):
    """One variant's tuning on one environment (``--tune``): its settings tried, best first, and the one chosen."""

    env: str
    variant: str
    algo: str
    preset: str  # the preset whose search block was sampled
    own: Optional[int]  # the setting of the variant's own values (the first); None when the space has none of them
    chosen: Optional[int]  # the setting with the best mean tuning score; None when none completed on every seed
    overrides: dict[str, Any]  # the chosen setting's values, which its deciding runs take
    tuning_score: Optional[float]  # the chosen setting's mean final evaluation over the tuning seeds
    steps: int  # environment steps its trials trained, in all
    cpu_seconds: float  # its trials' wall times times the CPUs each reserved
    best_preset: Optional[str]  # the chosen setting as a preset for --config: its best.yaml in storage
    settings: list[dict[str, Any]]  # as search.json's: setting, overrides, status, final_reward_mean, ...
    trials: list[TrialRecord]


class TuningDocument(TypedDict):
    """``tuning.json`` and ``summary.json``'s ``tuning`` (``--tune``): the budget every variant had, and each
    variant's tuning on each environment."""

    status: SweepStatus  # completed once every variant's tuning has
    settings: int  # settings per variant (--tune)
    seeds: list[int]  # the tuning seeds every setting trained on, never a deciding seed
    timesteps: dict[str, int]  # steps per run, per environment: the same for every variant
    early_stopping: bool  # ASHA stopped trailing trials, so the steps spent may differ
    variants: list[TunedVariant]


class SearchDocument(TypedDict):
    """``search.json``: each algorithm's settings, best first, and its trials in that order."""

    search: str
    command: str
    started: str
    finished: str
    options: dict[str, Any]
    settings: dict[str, list[dict[str, Any]]]
    trials: dict[str, list[TrialRecord]]
