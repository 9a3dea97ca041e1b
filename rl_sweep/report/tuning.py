"""What the report says of ``rl-sweep --tune``'s first phase (the sweep's ``tuning`` document): the budget every
variant had; how sensitive each variant is to its settings (the tuning score of every setting tried, the variant's
own and the chosen one marked); the chosen settings; and the maximisation bias, the chosen setting's tuning score
beside its score on the fresh deciding seeds (choosing the best of N noisy scores favours a lucky one)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from rl_sweep.files.status import COMPLETED
from rl_sweep.identity import label
from rl_sweep.report.blocks import Block, Heading, Image, Paragraph, Table, num
from rl_sweep.report.runs import RunRecord
from rl_sweep.text import cpu_hours, tuning_budget

SENSITIVITY = "sensitivity.png"


@dataclass
class TunedScores:
    """One variant's tuning on one environment, as the report shows it."""

    env: str
    variant: str
    settings: list[int]  # the settings completed on every tuning seed
    scores: list[float]  # their mean tuning scores
    not_scored: int  # settings not completed on every tuning seed (stopped by ASHA, or failed)
    own: int | None  # the variant's own setting
    own_score: float | None
    chosen: int | None
    chosen_values: dict[str, Any] = field(default_factory=dict)
    tuning_score: float | None = None  # the chosen setting's, on the tuning seeds
    fresh_score: float | None = None  # the same setting's mean final evaluation on the deciding seeds
    fresh_seeds: int = 0
    steps: int = 0  # environment steps its tuning trained, in all
    cpu_seconds: float = 0.0

    @property
    def bias(self) -> float | None:
        """How much higher the chosen setting scored in tuning than on fresh seeds."""
        if self.tuning_score is None or self.fresh_score is None:
            return None
        return self.tuning_score - self.fresh_score


@dataclass
class TuningReport:
    budget: str  # each variant tuned with ...
    early_stopping: bool
    entries: list[TunedScores]

    def numbers(self) -> dict[str, Any]:
        """``comparison.json``'s ``tuning``."""
        return {"budget": self.budget, "early_stopping": self.early_stopping,
                "variants": [{**asdict(entry), "bias": entry.bias} for entry in self.entries]}

    @property
    def lead(self) -> str:
        """The sentence the report leads with after the decision."""
        spent = {entry.steps for entry in self.entries}
        equal = (" ASHA stopped trailing trials early, so the budgets were equal at the start, not necessarily in "
                 "steps spent: " + ", ".join(f"{label(e.variant)} {e.steps:,}" for e in self.entries) + " steps."
                 if self.early_stopping and len(spent) > 1 else "")
        return (f"A fair fight: {self.budget}, on tuning seeds apart from the deciding ones; each variant's best "
                f"setting by its mean tuning score was then run on fresh seeds, which the decision is about.{equal}")


def tuning_report(tuning: dict[str, Any], runs: list[RunRecord]) -> TuningReport:
    """The report's view of a sweep's ``tuning``, with each chosen setting's score on the deciding ``runs``."""
    several = len({entry["env"] for entry in tuning["variants"]}) > 1
    entries = []
    for entry in tuning["variants"]:
        scored = [s for s in entry["settings"] if s["status"] == COMPLETED and s["final_reward_mean"] is not None]
        own = next((s["final_reward_mean"] for s in scored if s["setting"] == entry["own"]), None)
        fresh = [r.final_reward for r in runs if r.completed and r.variant == entry["variant"]
                 and (not several or r.env_name == entry["env"])]
        entries.append(TunedScores(
            env=entry["env"], variant=entry["variant"], settings=[s["setting"] for s in scored],
            scores=[s["final_reward_mean"] for s in scored], not_scored=len(entry["settings"]) - len(scored),
            own=entry["own"], own_score=own, chosen=entry["chosen"],
            chosen_values=entry["overrides"], tuning_score=entry["tuning_score"],
            fresh_score=float(np.mean(fresh)) if fresh else None, fresh_seeds=len(fresh), steps=entry["steps"],
            cpu_seconds=entry["cpu_seconds"]))
    return TuningReport(budget=tuning_budget(tuning), early_stopping=tuning["early_stopping"], entries=entries)


def tuning_blocks(report: TuningReport, level: int) -> list[Block]:
    """The report's "Tuning" section: the sensitivity figure, the maximisation bias and the chosen settings."""
    several = len({entry.env for entry in report.entries}) > 1

    def who(entry: TunedScores) -> str:
        return f"{label(entry.variant)} on {entry.env}" if several else label(entry.variant)

    unscored = sum(entry.not_scored for entry in report.entries)
    return [
        Heading(level, "Tuning"),
        Paragraph(f"{report.budget[0].upper()}{report.budget[1:]}. Tuning score: a setting's mean final evaluation "
                  "return over the tuning seeds (greedy policy)."
                  + (f" {unscored} setting(s) did not complete on every tuning seed and have no score."
                     if unscored else "")),
        Image(SENSITIVITY, "Sensitivity: the tuning score of every setting tried, per variant (the variant's own "
                           "setting and the chosen one marked, and the chosen one's score on the fresh seeds)"),
        Paragraph("Maximisation bias: the best of several noisy tuning scores is biased upwards by the choice itself. "
                  "The chosen setting's tuning score beside its score on the fresh seeds that decide:"),
        Table([("variant on environment" if several else "variant"), "settings scored", "own setting's score", "chosen",
               "tuning score", "fresh seeds", "fresh-seed score", "bias", "steps", "CPU-hours"],
              [[who(e), len(e.scores), num(e.own_score), "n/a" if e.chosen is None else f"s{e.chosen:02d}",
                num(e.tuning_score), e.fresh_seeds, num(e.fresh_score), num(e.bias), f"{e.steps:,}",
                cpu_hours(e.cpu_seconds / 3600)] for e in report.entries]),
        Paragraph("The chosen settings (what each variant's deciding runs took in place of its preset's):"),
        Table(["variant on environment" if several else "variant", "values"],
              [[who(e), ", ".join(f"{k}={_value(v)}" for k, v in e.chosen_values.items()) or "its own"]
               for e in report.entries]),
    ]


def _value(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
