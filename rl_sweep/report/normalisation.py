"""What makes scores of different environments comparable: on each environment, 0 is a uniform random policy,
evaluated with the evaluation's own protocol and seeds, and 1 is the environment's reward threshold (or, for
an environment without one, the best final score seen on it)."""

from __future__ import annotations

from dataclasses import dataclass

from rl_sweep.errors import EnvCreationError
from rl_sweep.report.runs import RunRecord
from rl_sweep.run.config import TrainingConfig
from rl_sweep.run.evaluation import evaluate_random

THRESHOLD = "reward threshold"
BEST_SEEN = "best final score seen"


@dataclass
class RandomEvaluation:
    """A uniform random policy evaluated as the runs of ``seed`` were: the same seeds, the same episodes."""

    seed: int
    episodes: int
    reward_mean: float


@dataclass
class Normalisation:
    """One environment's 0 and 1.

    :param random_score: the mean over ``random_evaluations``: the score that normalises to 0.
    :param reference: the score that normalises to 1.
    :param reference_source: ``THRESHOLD`` or ``BEST_SEEN``.
    """

    random_score: float
    random_evaluations: list[RandomEvaluation]
    reference: float
    reference_source: str

    def normalise(self, score: float) -> float:
        return (score - self.random_score) / (self.reference - self.random_score)


def measure_normalisation(runs: list[RunRecord]) -> Normalisation | None:
    """The normalisation of one environment from its runs: a random policy evaluated once for each seed (and
    evaluation length) of its completed runs, with their environment arguments. None without a completed run."""
    done = [r for r in runs if r.completed and r.seed is not None]
    if not done:
        return None
    protocols: dict[tuple[int, int], RunRecord] = {}
    for run in done:  # results files written before they recorded eval_episodes used the default
        protocols.setdefault((run.seed, run.eval_episodes or TrainingConfig.eval_episodes), run)
    evaluations = [RandomEvaluation(seed, episodes,
                                    evaluate_random(run.env_name, seed, episodes, run.env_kwargs)["reward_mean"])
                   for (seed, episodes), run in protocols.items()]
    random_score = sum(e.reward_mean for e in evaluations) / len(evaluations)
    threshold = next((r.threshold for r in done if r.threshold is not None), None)
    if threshold is not None:
        return Normalisation(random_score, evaluations, threshold, THRESHOLD)
    return Normalisation(random_score, evaluations, max(r.final_reward for r in done), BEST_SEEN)


def measure_normalisations(by_env: dict[str, list[RunRecord]]) -> tuple[dict[str, Normalisation | None],
                                                                         dict[str, str]]:
    """Each environment's normalisation (:func:`measure_normalisation`; None where it cannot be measured), and
    why it cannot for the environments this machine cannot make (a user's environment whose module is not
    importable here): such an environment is left out of the comparison across environments, not the report."""
    normalisation, unmeasured = {}, {}
    for env, runs in by_env.items():
        try:
            normalisation[env] = measure_normalisation(runs)
        except EnvCreationError as exc:
            normalisation[env] = None
            unmeasured[env] = f"its 0, a random policy's score, cannot be measured here ({exc})"
    return normalisation, unmeasured
