"""``rl-train`` / ``python -m rl_sweep.train``: one training run of the contract from the command line."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

from rl_sweep.cli import (
    Parser, add_training_options, env_kwargs_of, exit_code_of, ignore_signals_from_now_on, preset_of,
    program,
)
from rl_sweep.errors import ExitCode, Interrupted
from rl_sweep.files import names
from rl_sweep.files.status import INTERRUPTED
from rl_sweep.logs import ConsoleHandler, configure_console
from rl_sweep.presets import DEFAULT_ENV
from rl_sweep.run.config import ALGORITHMS, DEFAULT_SEED, TrainingConfig
from rl_sweep.run.progress import progress_bar

log = logging.getLogger("rl_sweep.train")

EPILOG = """\
exit codes:
  0  training completed
  1  training completed with warnings (a checkpoint save failed, a resume warning, evaluation cut at 10,000 steps)
  2  training failed (critical error, disk full)
  3  invalid command-line arguments (a preset without settings for the environment among them)
  4  conda environment validation failed
  5  environment creation failed (unknown id, an argument it does not take)
  6  model load failed (--resume-from)
  7  interrupted (SIGINT or SIGTERM, in training or evaluation): checkpoint saved, resume with --resume-from

files, in --output-dir:
  {files}

examples:
  python -m rl_sweep.train --algo ppo
  python -m rl_sweep.train --algo a2c --checkpoint-interval 500
  python -m rl_sweep.train --algo ppo --resume-from results/experiments/ppo_seed42/{checkpoint}
  python -m rl_sweep.train --algo a2c --config my_settings.yaml
  python -m rl_sweep.train --algo ppo --env-kwargs continuous=true enable_wind=true
  python -m rl_sweep.train --algo ppo --env mypackage.envs:Corridor-v0   # an environment of yours
""".format(files=names.run_folder_listing(), checkpoint=names.checkpoint_file(10_000))


def build_parser() -> argparse.ArgumentParser:
    """The contract's command line, plus --env-kwargs, --eval-episodes, --conda-env, --fast-numerics, --preset
    and --config."""
    parser = Parser(
        prog="rl-train",
        description="Train PPO or A2C (Stable-Baselines3) on a Gymnasium environment, with seeding, "
                    "checkpoints every N steps, metrics and results JSON, and resumption.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--algo", required=True, choices=ALGORITHMS, help="algorithm to train: ppo or a2c")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default: %(default)s)")
    add_training_options(parser)
    parser.add_argument("--output-dir", type=Path, default=None, metavar="DIR",
                        help="output directory (default: results/experiments/{algo}_seed{seed}/)")
    parser.add_argument("--resume-from", type=Path, default=None, metavar="CHECKPOINT",
                        help="checkpoint zip to continue training from")
    parser.add_argument("--verbose", action="store_true", help="DEBUG-level logging on the console")
    return parser


def _install_signal_handlers(stop: threading.Event) -> None:
    """SIGINT or SIGTERM: stop at the next step and save a checkpoint there. A second one, while the run saves,
    is only acknowledged: breaking off the save would leave nothing to resume from."""

    def handle(signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        if stop.is_set():
            log.warning("%s received again: still saving, the run stops in a moment", name)
            return
        log.warning("%s received: stopping at the next step to save a checkpoint", name)
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)


def run_training(config: TrainingConfig, stop: threading.Event | None = None) -> ExitCode:
    """Run ``config`` to the end, or until ``stop`` is set; return the contract's exit code."""
    return ExitCode(exit_code_of(lambda: _train(config, stop or threading.Event())))


def _train(config: TrainingConfig, stop: threading.Event, console: ConsoleHandler | None = None) -> ExitCode:
    """The run's loop; with ``console``, a progress bar on it where it is a terminal."""
    from rl_sweep.run.engine import TrainingRun  # heavy imports (torch, SB3) after argument parsing

    with closing(TrainingRun(config, stop)) as run:
        if console is None:
            while not run.done and not stop.is_set():
                run.step()
        else:
            with progress_bar(console, config.experiment_id, config.total_timesteps, run.step_count) as show:
                while not run.done and not stop.is_set():
                    show(run.step())
        if not run.done:
            run.abort(INTERRUPTED)
            log.warning("interrupted at step %d; resume with --resume-from %s",
                        run.step_count, run.latest_checkpoint)
            return ExitCode.INTERRUPTED
        try:
            run.finish()
        except Interrupted:  # during the evaluation: the final checkpoint is saved
            log.warning("interrupted while finishing; finish with --resume-from %s", run.latest_checkpoint)
            return ExitCode.INTERRUPTED
        return run.exit_code


def config_from_args(args: argparse.Namespace) -> TrainingConfig:
    """The run the command line describes."""
    values = vars(args).copy()
    values["preset"] = preset_of(args)
    values["env_kwargs"] = env_kwargs_of(args)
    values["env_name"] = args.env_name or DEFAULT_ENV
    del values["config_file"]
    return TrainingConfig(**values)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``rl-train`` and ``python -m rl_sweep.train``."""
    args = build_parser().parse_args(argv)
    console = configure_console(args.verbose)
    stop = threading.Event()

    def command() -> int:
        config = config_from_args(args)
        _install_signal_handlers(stop)
        return _train(config, stop, console)

    code = exit_code_of(command)
    ignore_signals_from_now_on()
    return code


entry = program(main)  # the rl-train program
