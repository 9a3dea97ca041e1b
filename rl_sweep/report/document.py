"""The report document, and what is written where: first what AdaStop decides (the sweep's decision, or a one-round
test at the seeds there are) and whether the budgets differ; per environment (:mod:`~rl_sweep.report.environment`),
the verdict in plain language, the figures, the replays (:mod:`~rl_sweep.report.replays`) and the tables; across
environments, when there are several, the same on normalised scores; the sections in words
(:mod:`~rl_sweep.report.sections`), then the command that reproduces the runs and the library versions
(:mod:`~rl_sweep.report.reproduce`); written as ``report.md`` and ``report.html`` (:mod:`~rl_sweep.report.blocks`),
with every number in ``comparison.json``. A sweep's report reads its runs from its storage
(:mod:`~rl_sweep.report.stored_runs`). Algorithms come in one order throughout
(:func:`~rl_sweep.report.runs.in_report_order`)."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path
from typing import Any, Sequence

from rl_sweep.atomic import write_atomic, write_json_atomic
from rl_sweep.decision.one_round import UNNAMED, fixed_sample, one_round_decision
from rl_sweep.files import names
from rl_sweep.files.sweep import ComparisonDocument
from rl_sweep.identity import env_folder, label
from rl_sweep.logs import utc_now
from rl_sweep.report import plots
from rl_sweep.report.across import compare_across, normalised_scores
from rl_sweep.report.blocks import Code, Heading, Paragraph, to_html, to_markdown
from rl_sweep.report.environment import environment_report
from rl_sweep.report.normalisation import measure_normalisations
from rl_sweep.report.replays import Encoder, ModelSource, Replays, local_model, render_replays, stored_model
from rl_sweep.report.reproduce import reproduce_command, versions
from rl_sweep.report.runs import RunRecord, by_environment, in_report_order
from rl_sweep.report.sections import PROFILES, across_blocks, environment_blocks
from rl_sweep.report.statistics import CURVE_REPS, REPS
from rl_sweep.report.tuning import SENSITIVITY, tuning_blocks, tuning_report
from rl_sweep.report.stored_runs import fetch_runs
from rl_sweep.report.verdict import across_verdict, lead
from rl_sweep.storage import Storage
from rl_sweep.text import utilisation_line


def write_report(runs: list[RunRecord], out_dir: Path, command: str | None = None, reps: int = REPS,
                 decision: dict[str, Any] | None = None, algos: Sequence[str] | None = None, replays: bool = True,
                 models: ModelSource = local_model, adaptive: str | None = None,
                 utilisation: dict[str, float] | None = None, baseline: str | None = None,
                 tuning: dict[str, Any] | None = None) -> ComparisonDocument:
    """Write the figures, the replays, report.md, report.html and ``comparison.json`` (the report's numbers) into
    ``out_dir``; return those numbers. With runs of several environments, each has its section, its figures and
    its replays (under ``replays/{env folder}/``), and a section compares across them.

    :param reps: bootstrap replicates of each confidence interval (the learning-curve band and the
        performance profiles use at most ``CURVE_REPS``).
    :param decision: the sweep's AdaStop ``decision`` (``rl-sweep --until-decided``), which the report leads
        with; without one, a one-round AdaStop test at the seeds the runs have.
    :param algos: the order to name the variants in (a sweep's ``--variants`` or ``--algos``); None: ppo, a2c, then
        the others.
    :param replays: whether to render each variant's best, median and worst seed.
    :param models: where each run's final model is, for its replay.
    :param adaptive: the ``--until-decided`` sweep the runs come from, when they are given as folders: its seeds
        were chosen from their results, so no one-round test is run on them.
    :param utilisation: the sweep's CPU utilisation (its summary's), shown below the runs.
    :param baseline: the variant a fixed-seed sweep's one-round test compares every other with (``--baseline``).
    :param tuning: the sweep's ``tuning`` (``--tune``): the report leads with its budget after the decision, and
        shows the variants' sensitivity, the chosen settings and the maximisation bias.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    runs = in_report_order(runs, algos)
    groups = by_environment(runs)
    algos = list(dict.fromkeys(r.variant for r in runs))
    title = " vs ".join(label(a) for a in algos)
    encoder = functools.cache(Encoder.find)  # probed once, when there is a model to play: it starts ffmpeg

    def replayed(env_runs: list[RunRecord], subfolder: str) -> Replays | None:
        return render_replays(env_runs, out_dir, subfolder, models, encoder) if replays else None

    several = len(groups) > 1
    unplaced = groups.pop(None, []) if several else []
    decision = decision or one_round_decision({env or UNNAMED: env_runs for env, env_runs in groups.items()}, adaptive,
                                              baseline)
    normalisations, unmeasured = measure_normalisations({env: env_runs for env, env_runs in groups.items() if env})
    if not several:
        [(env, env_runs)] = groups.items()
        parts = {env or UNNAMED: environment_report(env_runs, env, out_dir, "", reps, replayed(env_runs, ""), decision,
                                                    normalisations.get(env))}
        [part] = parts.values()
        heading, sections = f"{title} on {env or UNNAMED}", environment_blocks(part, 2)
        numbers = part.numbers()
    else:
        parts = {env: environment_report(env_runs, env, out_dir, f"_{env_folder(env)}", reps,
                                         replayed(env_runs, env_folder(env)), decision, normalisations.get(env))
                 for env, env_runs in groups.items()}
        across = compare_across(groups, normalisations, unmeasured, reps, fixed_sample(decision))
        scores = normalised_scores(groups, {env: across.normalisation[env] for env in across.environments})
        if scores:
            plots.performance_profiles(scores, out_dir / PROFILES, min(reps, CURVE_REPS))
        lines = across_verdict(across, algos, unplaced)
        heading, sections = f"{title} on {len(groups)} environments", []
        for env, part in parts.items():
            sections += [Heading(2, env), *environment_blocks(part, 3)]
        sections += across_blocks(across, lines, algos, bool(scores))
        numbers = {"environments": {env: part.numbers() for env, part in parts.items()},
                   "across_environments": {**across.to_json(), "verdict": lines}}
    first = lead(decision, {env: part.common for env, part in parts.items()})
    tuned = tuning_report(tuning, runs) if tuning else None
    if tuned is not None:
        first.insert(len(first) - 1, tuned.lead)  # after the decision, before what AdaStop is
        plots.sensitivity(tuned.entries, out_dir / SENSITIVITY)
        sections = tuning_blocks(tuned, 2) + sections
    command = command or reproduce_command(runs)
    found_versions = versions()
    blocks = [Heading(1, heading), *map(Paragraph, first), *sections,
              *([Heading(2, "How the sweep ran"), Paragraph(utilisation_line(utilisation))] if utilisation else []),
              Heading(2, "Reproduce"), Code(command),
              Heading(2, "Versions"), Paragraph(", ".join(f"{k} {v}" for k, v in found_versions.items()))]
    markdown, page = to_markdown(blocks), to_html(blocks, out_dir)
    document: ComparisonDocument = {**numbers, "decision": decision, "lead": first, "command": command,
                                    "versions": found_versions, "generated": utc_now(),
                                    **({"utilisation": utilisation} if utilisation else {}),
                                    **({"tuning": tuned.numbers()} if tuned else {})}
    write_json_atomic(out_dir / names.COMPARISON, document)
    write_atomic(out_dir / names.REPORT_MD, lambda f: f.write(markdown.encode()))
    write_atomic(out_dir / names.REPORT_HTML, lambda f: f.write(page.encode()))
    return document


def write_sweep_report(storage: Storage, folder: str, summary: dict[str, Any], reps: int = REPS,
                       replays: bool = True, out_dir: Path | None = None) -> ComparisonDocument:
    """The report of the sweep whose summary is ``summary``, written into its ``folder`` in ``storage`` from the
    files of the runs it lists (on remote storage, through a scratch folder on this machine, the figures and the
    replays uploaded when done); it leads with the summary's AdaStop ``decision`` when the sweep ran until decided,
    and names the variants in the sweep's order.

    :param reps: bootstrap replicates of each confidence interval.
    :param replays: whether to render each algorithm's best, median and worst seed (their final models are
        fetched from storage as needed).
    :param out_dir: a folder on this machine to write the report into instead of the sweep's folder.
    """
    with tempfile.TemporaryDirectory(prefix="rl_sweep_report_") as scratch:
        runs, folders = fetch_runs(storage, summary, Path(scratch))
        out = out_dir or (storage.local_path(folder) if storage.is_local else Path(scratch, "report"))
        options = summary.get("options", {})
        order = [variant["name"] for variant in options.get("variants", [])] or options.get("algos")
        report = write_report(runs, out, summary.get("command"), reps, summary.get("decision"), order, replays,
                              stored_model(storage, folders, Path(scratch, "models")),
                              utilisation=summary.get("utilisation"), baseline=options.get("baseline"),
                              tuning=summary.get("tuning"))
        if out_dir is None and not storage.is_local:
            for path in sorted(out.iterdir()):  # the replays/ folder goes up whole
                storage.upload(path, folder, path.name)
    return report
