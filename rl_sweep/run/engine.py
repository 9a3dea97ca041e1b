"""The engine: one training run of the contract, advanced one checkpoint interval at a time.

The CLI (:mod:`rl_sweep.run.cli`) and the Ray Tune trainable (:mod:`rl_sweep.sweep.trainable`) both
drive a :class:`TrainingRun` the same way::

    run = TrainingRun(config)          # validate, seed, create env and model (or resume)
    while not run.done:
        run.step()                     # train to the next checkpoint, save it, rewrite metrics
    run.finish()                       # final model, evaluation, results JSON
    run.close()                        # a run closed before it finished is recorded as interrupted

A run's status is decided here and nowhere else: ``completed`` by :meth:`~TrainingRun.finish`,
``failed`` when a step or the finish raises, ``interrupted`` when it is stopped or closed unfinished.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rl_sweep.atomic import write_json_atomic
from rl_sweep.errors import INTERRUPTIONS, DiskFullError, ExitCode, Interrupted, PipelineError
from rl_sweep.files import names
from rl_sweep.files.metrics import MetricsMetadata, read_time_series
from rl_sweep.files.results import ResultsDocument
from rl_sweep.files.status import COMPLETED, FAILED, INTERRUPTED, RunStatus
from rl_sweep.numerics import pin, pinning, unpin
from rl_sweep.logs import PROGRESS_LINE, attach_file_log, detach_file_log, file_stamp, utc_now
from rl_sweep.run.algorithms import check_settings, create_model, training_loss
from rl_sweep.run.checkpoints import CheckpointList, RunState, inspect_checkpoint, save_checkpoint
from rl_sweep.run.config import TrainingConfig
from rl_sweep.run.environments import EVAL_TIME_LIMIT, format_kwargs, make_training_env
from rl_sweep.run.folder import FolderLock, set_aside
from rl_sweep.run.evaluation import Evaluation, evaluate
from rl_sweep.run.rollout_state import restore
from rl_sweep.run.resume import resume
from rl_sweep.run.metrics import RECORDING_INTERVAL, EpisodeStats, MetricsRecorder
from rl_sweep.run.results import RunFacts, build_results
from rl_sweep.run.seeding import check_conda_env, set_seed
from rl_sweep.run.stepper import Stepper
from rl_sweep.text import number

log = logging.getLogger(__name__)


@dataclass
class StepReport:
    """What one :meth:`TrainingRun.step` did, for progress displays and Ray Tune."""

    step: int
    episodes: int
    reward: float | None
    loss: float | None
    steps_per_second: float
    checkpoint_seconds: float
    done: bool


class TrainingRun:
    """One training run, from its :class:`TrainingConfig` to the contract's files.

    :param config: the run's configuration.
    :param stop: an event that, once set (by a signal handler, say), makes the run pause at its
        next environment step; :meth:`step` then saves a checkpoint there and returns.
    """

    def __init__(self, config: TrainingConfig, stop: threading.Event | None = None) -> None:
        self.config = config
        self.output_dir = config.output_dir
        self.status: RunStatus | None = None  # set once: by finish() or abort()
        self.warnings: list[str] = []
        self._stop = stop or threading.Event()
        self.env = None
        self.metrics: MetricsRecorder | None = None
        self.stepper: Stepper | None = None
        self._log_handler: logging.Handler | None = None
        # Nothing is written before these checks.
        conda_env = check_conda_env(config.conda_env)
        check_settings(config.algo, config.settings, config.preset)
        checkpoint = inspect_checkpoint(config.resume_from, config.algo) if config.resume_from else None
        resumed = checkpoint.state if checkpoint else None
        # A resumed run keeps its identity; one written before runs had an id stays without (None).
        self.run_id: str | None = resumed.run_id if resumed else uuid.uuid4().hex
        if config.fast_numerics:
            unpin()
            log.warning("--fast-numerics: MKL picks its kernels by CPU, so this run's numbers depend on the CPU "
                        "it runs on")
        else:
            pin()
        set_seed(config.seed)
        self.numerics = pinning(torch.get_num_threads())
        # Made before the folder is touched: an environment that cannot be made leaves nothing behind.
        self.env = make_training_env(config.env_name, config.seed, config.settings, config.env_kwargs)
        self._lock = FolderLock(self.output_dir)
        try:
            aside = self._claim_folder(keep={self.run_id} if checkpoint else set(),
                                       resumed_at=resumed.step if resumed else None)
        except BaseException:
            self.env.close()
            raise
        stamp = file_stamp()
        try:
            self._log_handler = attach_file_log(self.output_dir / names.training_log(stamp))
            if aside is not None:
                log.info("%s held files of another run, or this run's checkpoints after the step it resumes at: "
                         "moved them, whole, to %s", self.output_dir, aside)
            self._log_start(conda_env)
            log.debug("environment %s%s: observation space %s, action space %s", config.env_name,
                      f" ({format_kwargs(config.env_kwargs)})" if config.env_kwargs else "",
                      self.env.observation_space, self.env.action_space)
            replay_until = 0
            if checkpoint is not None:
                self.model, state = resume(checkpoint, config, self.env, self.run_id, self._pinning, self._warn)
                self.checkpoints = CheckpointList.existing(self.output_dir, state.step, self.run_id)
                if checkpoint.rollout_start is not None and state.step < config.total_timesteps:
                    restore(self.model, checkpoint.rollout_start)  # back to its rollout's start, exactly
                    replay_until = state.step
            else:
                log.info("Creating new %s model", config.algo.upper())
                self.model = create_model(config.algo, self.env, config.seed, config.settings)
                state = RunState(config.algo, config.env_name, config.seed, step=0, run_id=self.run_id,
                                 env_kwargs=config.env_kwargs, numerics=self._pinning)
                self.checkpoints = CheckpointList(self.output_dir)
            log.debug("preset %s: %s; policy: %s", config.preset, config.settings, self.model.policy)
            self.step_count: int = state.step
            self.episodes = EpisodeStats(state.episodes)
            self.training_time: float = state.training_time_seconds
            self.loss: float | None = state.loss
            metrics_json = self.output_dir / names.metrics_file(config.experiment_id)
            series = read_time_series(metrics_json, self.step_count) if checkpoint else []
            if checkpoint and self.step_count and not series:
                self._warn(f"no readable metrics JSON of this run in {self.output_dir}: its time series starts at "
                           f"step {self.step_count}")
            self.metrics = MetricsRecorder(
                metrics_json, self.output_dir / names.metrics_csv(stamp),
                MetricsMetadata(experiment_id=config.experiment_id, algorithm=config.algo.upper(),
                                environment=config.env_name, seed=config.seed,
                                recording_interval=RECORDING_INTERVAL, run_id=self.run_id),
                series, start_step=self.step_count,
            )
            self.facts = RunFacts.of(config, self.env, conda_env, utc_now(), self.run_id, self.numerics)
            self.stepper = Stepper(self.model, config.total_timesteps, self._observe, self._stop,
                                   checkpoint.rollout_start if checkpoint else None, replay_until)
        except BaseException:
            self.close()
            raise

    def _claim_folder(self, keep: set[str | None], resumed_at: int | None) -> Path | None:
        """Make the output folder, lock it, and move other runs' files out of it (all, for a fresh run; for a
        run resumed at step ``resumed_at``, its checkpoints of later steps too): from here on it holds this run
        only. Returns where the other files went, if anywhere."""
        try:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            self._lock.acquire()
            aside = set_aside(self.output_dir, keep, resumed_at)
            (self.output_dir / names.LOGS).mkdir(exist_ok=True)
            return aside
        except BaseException as exc:
            self._lock.release()
            if isinstance(exc, OSError):
                raise PipelineError(f"cannot create output directory {self.output_dir}: {exc.strerror}") from exc
            raise

    def _log_start(self, conda_env: str | None) -> None:
        config = self.config
        log.info(
            "%s: %s on %s, seed %d, %d steps, checkpoint every %d steps, preset %s, output in %s",
            config.experiment_id, config.algo.upper(), config.env_name, config.seed,
            config.total_timesteps, config.checkpoint_interval, config.preset, self.output_dir,
        )
        log.debug("configuration: %s", config.to_dict())
        if conda_env is None:
            log.warning("no conda environment is active (expected %r); running in the current Python "
                        "environment", config.conda_env)

    # -- training --------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        """Whether training has reached ``total_timesteps``."""
        return self.step_count >= self.config.total_timesteps

    @property
    def finished(self) -> bool:
        """Whether the run completed: final model, evaluation and results written."""
        return self.status == COMPLETED

    def step(self) -> StepReport:
        """Train to the next multiple of the checkpoint interval (or the end, or a stop), then save.

        The checkpoint of step N holds the model at step N and the metrics JSON
        is rewritten. Raises :class:`DiskFullError` when the disk is full; any other failure to
        save a checkpoint is logged and training goes on (exit code 1 at the end).
        """
        interval, total = self.config.checkpoint_interval, self.config.total_timesteps
        target = min((self.step_count // interval + 1) * interval, total)
        started, first_step = time.perf_counter(), self.step_count
        with self._aborting_on_error():
            self.step_count = self.stepper.advance(target)
            speed = (self.step_count - first_step) / max(time.perf_counter() - started, 1e-9)
            saving = time.perf_counter()
            saved = self._save_checkpoint()
            checkpoint_seconds = time.perf_counter() - saving
            self.metrics.write_json(self.episodes, self.step_count)
        self.training_time += time.perf_counter() - started
        reward, _ = self.episodes.recent_means()
        log.info(
            "%s step %d/%d | reward %s (last %d episodes) | loss %s | %.0f steps/s%s",
            self.config.experiment_id, self.step_count, total, number(reward, 2),
            len(self.episodes.window), number(self.loss, 2), speed,
            f" | saved {saved.name}" if saved else "", extra=PROGRESS_LINE,
        )
        return StepReport(self.step_count, self.episodes.count, reward, self.loss, speed,
                          checkpoint_seconds, self.done)

    def _observe(self, step: int, infos: list[dict]) -> None:
        """Called by the worker after every environment step."""
        for info in infos:
            episode = info.get("episode")
            if episode is not None:
                self.episodes.add(float(episode["r"]), int(episode["l"]))
                log.debug("step %d: episode %d ended, reward %.2f, length %d",
                          step, self.episodes.count, episode["r"], episode["l"])
        if self.metrics.due(step):
            loss = training_loss(self.config.algo, self.model)
            self.loss = self.loss if loss is None else loss
            self.metrics.record(step, self.episodes, self.loss, utc_now())

    # -- files -------------------------------------------------------------------------------

    def _state(self) -> RunState:
        # The latest update's loss, which the time series shows until the next update: a resumed run's logger
        # has none until then.
        latest = training_loss(self.config.algo, self.model)
        return RunState(self.config.algo, self.config.env_name, self.config.seed, self.step_count,
                        self.training_time, self.episodes.state(), self.run_id,
                        self.loss if latest is None else latest, self.config.env_kwargs, self._pinning)

    def _save_checkpoint(self) -> Path | None:
        """Save the checkpoint of this step; log and record a failure other than a full disk."""
        path = self.checkpoints.path(self.step_count)
        started = time.perf_counter()
        try:
            save_checkpoint(self.model, path, self._state(), self.stepper.rollout_start)
        except DiskFullError:
            raise
        except Exception as exc:
            self._warn(f"checkpoint {path.name} could not be saved ({exc}); training goes on without it",
                       level=logging.ERROR)
            return None
        log.debug("saved %s in %.1f ms", path.name, 1000 * (time.perf_counter() - started))
        self.checkpoints.add(self.step_count)
        return path

    @property
    def latest_checkpoint(self) -> Path | None:
        """The newest checkpoint this run knows of."""
        return self.checkpoints.latest

    def _write_results(self, status: RunStatus, evaluation: Evaluation | None,
                       model_file: str | None) -> ResultsDocument:
        results = build_results(
            self.facts, status=status, end_time=utc_now(), steps=self.step_count,
            episodes=self.episodes, evaluation=evaluation, training_time=self.training_time,
            checkpoints=list(self.checkpoints.names), model_file=model_file, warnings=list(self.warnings),
        )
        write_json_atomic(self.output_dir / names.results_file(self.config.experiment_id), results)
        return results

    def finish(self) -> ResultsDocument:
        """Save the final model, evaluate it, and write the metrics and results JSON."""
        with self._aborting_on_error():
            self.stepper.close()
            self._ensure_checkpoint()
            if self.model._n_updates == 0:
                rollout = self.model.n_steps * self.model.n_envs
                self._warn(f"the policy was never updated: no rollout of {rollout} steps (n_envs x n_steps) was "
                           f"completed in its {self.step_count} steps (a resumed run starts a new one), so the "
                           "untrained policy is what is evaluated")
            model_file = names.model_file(self.config.experiment_id)
            save_checkpoint(self.model, self.output_dir / model_file, self._state(), self.stepper.rollout_start)
            if self._stop.is_set():
                raise Interrupted("stop")
            evaluation = evaluate(self.model, self.config.env_name, self.config.seed, self.config.eval_episodes,
                                  self.config.env_kwargs, self._stop)
            if evaluation["cut_at_time_limit"]:
                self._warn(f"{evaluation['cut_at_time_limit']} of {evaluation['episodes']} evaluation episodes "
                           f"stopped at {EVAL_TIME_LIMIT:,} steps: {self.config.env_name} has no time limit of "
                           "its own (give one with --env-kwargs max_episode_steps=N)")
            self.metrics.write_json(self.episodes, self.step_count)
            results = self._write_results(COMPLETED, evaluation, model_file)
            self.status = COMPLETED
        metrics = results["experiment_results"]["metrics"]
        log.info(
            "%s finished: %d steps in %.1f s (%.0f steps/s), %d training episodes; "
            "evaluation over %d episodes: reward %.2f ± %.2f, length %.1f; files in %s",
            self.config.experiment_id, self.step_count, self.training_time,
            metrics["steps_per_second"] or 0.0, self.episodes.count, evaluation["episodes"],
            evaluation["reward_mean"], evaluation["reward_std"], evaluation["episode_length_mean"], self.output_dir,
        )
        threshold = self.facts.reward_threshold
        if threshold is not None and not metrics["converged"]:
            log.warning("final reward %.2f is below the reward threshold %.1f: not converged",
                        evaluation["reward_mean"], threshold)
        return results

    def abort(self, status: RunStatus) -> None:
        """After an interruption or a failure, save what can be saved: checkpoint, metrics, results.

        The first status given stands: a run that failed and is then closed stays ``failed``.
        """
        if self.status is not None or self.stepper is None or self.metrics is None:
            return
        self.status = status
        for save in (self.stepper.close, self._ensure_checkpoint,
                     lambda: self.metrics.write_json(self.episodes, self.step_count),
                     lambda: self._write_results(status, None, None)):
            try:
                save()
            except Exception as exc:
                log.error("while saving after the run was %s: %s", status, exc)

    @contextmanager
    def _aborting_on_error(self) -> Iterator[None]:
        """An exception in the block aborts the run: ``interrupted`` for Ctrl-C, ``failed`` otherwise."""
        try:
            yield
        except BaseException as exc:
            self.abort(INTERRUPTED if isinstance(exc, INTERRUPTIONS) else FAILED)
            raise

    def _ensure_checkpoint(self) -> None:
        """Save the checkpoint of the model's current step unless it already exists."""
        self.step_count = self.model.num_timesteps
        if not self.checkpoints.has(self.step_count):
            self._save_checkpoint()

    @property
    def _pinning(self) -> dict[str, Any]:
        """What a checkpoint records of the numerics: the pinning, not the CPU (which pinning makes moot), and on a CPU
        not Intel's whether MKL honours it (a checkpoint of an earlier release there computed otherwise)."""
        return {key: self.numerics[key] for key in ("mkl_cbwr", "torch_threads", "mkl_honours_cbwr")
                if key in self.numerics}

    def _warn(self, message: str, level: int = logging.WARNING) -> None:
        """Log something that lessens trust in the run's files; the run then exits with code 1."""
        log.log(level, message)
        self.warnings.append(message)

    @property
    def exit_code(self) -> ExitCode:
        """The exit code of a completed run: 1 when something lessened trust in its files."""
        return ExitCode.WARNINGS if self.warnings else ExitCode.OK

    def close(self) -> None:
        """Record an unfinished run as interrupted, then release the worker thread, files, environment
        and log file; safe to call twice."""
        self.abort(INTERRUPTED)
        if self.stepper is not None:
            self.stepper.close()
        if self.metrics is not None:
            self.metrics.close()
        if self.env is not None:
            self.env.close()
            self.env = None
        if self._log_handler is not None:
            detach_file_log(self._log_handler)
            self._log_handler = None
        self._lock.release()
