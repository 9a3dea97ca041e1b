"""A seed sweep: every (algorithm, seed) run of the contract as a Ray Tune trial, then the summary and the
comparison report."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from rl_sweep.cli import invoked_as
from rl_sweep.decision import sentence
from rl_sweep.errors import INTERRUPTIONS, ExitCode, one_line
from rl_sweep.logs import utc_now
from rl_sweep.run.config import TrainingConfig
from rl_sweep.files import names
from rl_sweep.files.status import COMPLETED, FAILED, INTERRUPTED, NOT_NEEDED
from rl_sweep.files.sweep import DecisionDocument, SummaryDocument, TrialRecord, TuningDocument, variant_of
from rl_sweep.sweep.checks import check_before_start
from rl_sweep.sweep import signals
from rl_sweep.sweep.claim import start_sweep
from rl_sweep.sweep.options import RESULTS_DIR, SweepOptions
from rl_sweep.sweep.records import trial_records
from rl_sweep.sweep.schedule import longest_first, utilisation
from rl_sweep.sweep.tuner import build_tuner, fit
from rl_sweep.text import WHY_RETURNS_DIFFER, number, utilisation_line

log = logging.getLogger("rl_sweep.sweep")


def steps_by_environment(runs: Sequence[TrainingConfig]) -> str:
    """Each environment and the steps each variant trains on it: ``LunarLander-v3 (ppo 600,000 steps, a2c
    1,000,000 steps)``."""
    by_env: dict[str, dict[str, list[int]]] = {}
    for run in runs:
        steps = by_env.setdefault(run.env_name, {}).setdefault(run.variant, [])
        if run.total_timesteps not in steps:
            steps.append(run.total_timesteps)
    return "; ".join(
        f"{env} (" + ", ".join(f"{algo} {'/'.join(f'{n:,}' for n in steps)} steps" for algo, steps in algos.items())
        + ")" for env, algos in by_env.items())


def summarize(options: SweepOptions, trials: list[TrialRecord], started: str, unfinished: bool = False
              ) -> SummaryDocument:
    """``summary.json``: every trial's record (status, final reward, steps, wall time, experiment folder),
    in the order of ``--variants`` (or ``--algos``) and seeds, and the sweep's status."""
    envs = {env: i for i, env in enumerate(options.trials.envs)}
    order = {variant: i for i, variant in enumerate(options.trials.names)}
    trials = sorted(trials, key=lambda t: (envs.get(t["env"], len(envs)), order.get(variant_of(t), len(order)),
                                           t["seed"] or 0))
    statuses = {t["status"] for t in trials} - {NOT_NEEDED}
    # Unfinished is interrupted only when an interrupt signal arrived: Tune leaves trials unfinished on no other.
    status = (COMPLETED if statuses == {COMPLETED} and not unfinished
              else INTERRUPTED if FAILED not in statuses and signals.received() else FAILED)
    return SummaryDocument(sweep=options.name, status=status, command=options.command, started=started,
                           finished=utc_now(), options=options.to_json(), trials=trials)


def print_summary(summary: SummaryDocument, stream: TextIO = sys.stdout) -> None:
    """One screen: a line per trial, each variant's mean final reward, and the error of a failed trial."""
    print(f"\nSweep {summary['sweep']}: {summary['status']}", file=stream)
    width = max([16, *(len(t["trial"] or "") for t in summary["trials"])])
    print(f"{'trial':<{width}} {'status':<11} {'steps':>8} {'evaluation return':>17} {'wall s':>8}  experiment",
          file=stream)
    for t in summary["trials"]:
        reward = ("-" if t["final_reward_mean"] is None
                  else f"{number(t['final_reward_mean'])} ± {number(t['final_reward_std'])}")
        print(f"{t['trial']:<{width}} {t['status']:<11} {t['timesteps']:>8} {reward:>17} "
              f"{number(t['wall_time_seconds'], 0, '-', 8)}  {t['experiment_dir'] or '-'}", file=stream)
        if t["error"]:
            print(f"  {t['trial']} failed: {t['error']}", file=stream)
    several = len({t.get("env") for t in summary["trials"]}) > 1
    for env, variant in dict.fromkeys((t.get("env"), variant_of(t)) for t in summary["trials"]):
        rewards = [t["final_reward_mean"] for t in summary["trials"] if variant_of(t) == variant
                   and t.get("env") == env and t["final_reward_mean"] is not None and t["status"] != NOT_NEEDED]
        if rewards:
            print(f"{variant}{f' on {env}' if several else ''}: mean evaluation return "
                  f"{number(sum(rewards) / len(rewards))} over {len(rewards)} seed(s)", file=stream)
    print(f"Evaluation return: the final model's greedy policy. {WHY_RETURNS_DIFFER}", file=stream)
    decision = summary.get("decision")
    if "utilisation" in summary:
        print(utilisation_line(summary["utilisation"]), file=stream)
    if decision is not None:
        for comparison in decision["comparisons"]:
            print(f"Decision: {sentence(comparison, decision)}.", file=stream)
        if not decision["comparisons"]:
            print(f"Decision: none yet ({decision['method']} needs every round's trials completed).", file=stream)


def run_sweep(options: SweepOptions, *, resume: bool = False, address: str | None = None,
              dashboard: bool = True, verbose: bool = False, callbacks: Sequence[Any] = ()) -> tuple[ExitCode, dict]:
    """Run (or resume) the sweep to its end; write and return its summary."""
    import ray

    runs = options.sweep_runs()
    check_before_start([run for _, run in runs], address)
    storage = options.storage
    started = utc_now()
    start_sweep(options, resume, address, dashboard, verbose)
    cpus = ray.cluster_resources().get("CPU", 0)
    print(f"Sweep {options.name}: {len(runs)} trial(s) on {steps_by_environment([run for _, run in runs])}, "
          f"preset {options.runs.preset}, on {cpus:.0f} CPU(s); files in {options.cluster.results_dir}", flush=True)
    trials = [options.trial_config(name, run) for name, run in longest_first(runs)]
    result_grid = fit(build_tuner(options, trials, options.folder(names.TUNE), restore=resume, callbacks=callbacks))
    return finish_sweep(options, trial_records(result_grid, trials, storage.location), started, cpus=cpus)


def finish_sweep(options: SweepOptions, records: list[TrialRecord], started: str,
                 decision: DecisionDocument | None = None, cpus: float = 0, unfinished: bool = False,
                 tuning: TuningDocument | None = None) -> tuple[ExitCode, dict]:
    """The end of every sweep: the summary (with AdaStop's ``decision`` of ``--until-decided``, and the ``tuning``
    of ``--tune``) on the console and in ``summary.json``, the report, and the exit code."""
    from rl_sweep.report.document import write_sweep_report  # the report layer, once the trials are done

    storage = options.storage
    summary = summarize(options, records, started, unfinished)
    if decision is not None:
        summary["decision"] = decision
    if tuning is not None:
        summary["tuning"] = tuning
    if busy := utilisation(records, cpus, options.cluster.cpus_per_trial):
        summary["utilisation"] = busy
    print_summary(summary)
    storage.write_json(summary, options.folder(names.SUMMARY))  # before the report, which takes seconds
    try:
        # An unfinished sweep's report goes without replays: it is rewritten when the sweep is resumed.
        summary["report"] = write_sweep_report(storage, options.folder(), summary,
                                               replays=options.report.replays and summary["status"] == COMPLETED)
        print(f"Report: {storage.uri(options.folder(names.REPORT_HTML))}")
        if decision is None:  # what the report's test says at these seeds; an --until-decided sweep said its own
            for line in summary["report"]["lead"][:-1]:  # the last paragraph says what AdaStop is
                print(line)
        storage.write_json(summary, options.folder(names.SUMMARY))
    except (Exception, *INTERRUPTIONS) as exc:  # the trials' files stand without it; rl-report --sweep retries
        interrupted = isinstance(exc, INTERRUPTIONS)
        log.error("the comparison report %s: %s; retry with rl-report --sweep %s",
                  "was interrupted" if interrupted else "failed", one_line(exc) or "Ctrl-C", options.name)
        if interrupted:
            return ExitCode.INTERRUPTED, summary
    if summary["status"] == COMPLETED:
        return ExitCode.OK, summary
    not_done = [t["trial"] for t in summary["trials"] if t["status"] not in (COMPLETED, NOT_NEEDED)]
    if summary["status"] == FAILED:
        failed = any(t["status"] == FAILED for t in summary["trials"])
        log.error("trials not completed: %s (%s; see %s)", ", ".join(not_done) or "the next round's",
                  f"failed; once its cause is fixed, {resume_command(options)} runs them again" if failed
                  else f"no interrupt signal arrived; continue with: {resume_command(options)}", names.SUMMARY)
        return ExitCode.FAILED, summary
    log.warning("sweep interrupted by %s; trials not completed: %s. Continue with: %s", signals.described(),
                ", ".join(not_done) or "the next round's", resume_command(options))
    return ExitCode.INTERRUPTED, summary


def resume_command(options: SweepOptions) -> str:
    """The command that continues the sweep: ``rl-sweep --resume NAME``, with its ``--results-dir`` unless the
    default."""
    results_dir = options.cluster.results_dir
    return (f"{invoked_as('rl-sweep')} --resume {options.name}"
            + ("" if results_dir == str(Path(RESULTS_DIR).resolve()) else f" --results-dir '{results_dir}'"))
