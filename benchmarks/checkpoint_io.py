"""Checkpoint save and load times, and zip size: SB3's own save/load (what the pipeline did before it wrote a
manifest and stopped unpickling) against rl-sweep's, side by side, for the contract and tuned presets.

    python benchmarks/checkpoint_io.py                 # 200 saves and loads per preset and algorithm
    python benchmarks/checkpoint_io.py --repeats 500

Each model is trained one rollout first, so that its optimizer has state (the checkpoint's full size).
"SB3" saves with ``model.save`` plus the atomic write, and loads with ``PPO.load``/``A2C.load``
(which unpickles ``data``); "rl-sweep" is ``save_checkpoint`` (with ``rl_sweep.json``, the state at
the start of the rollout for an exact resume, and the SHA-256 manifest) and ``inspect_checkpoint`` +
``load_checkpoint`` (manifest verified, nothing unpickled). "resume" is what an exact resume adds to a
load: replaying every environment's episode up to the rollout's start and restoring the generators.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from rl_sweep.atomic import write_atomic
from rl_sweep.run.algorithms import ALGORITHM_CLASSES, create_model
from rl_sweep.run.checkpoints import RunState, inspect_checkpoint, load_checkpoint, save_checkpoint
from rl_sweep.run.config import TrainingConfig
from rl_sweep.run.environments import make_training_env
from rl_sweep.run.rollout_state import capture, restore
from rl_sweep.run.seeding import set_seed


def percentiles(seconds: list[float]) -> tuple[float, float]:
    ordered = sorted(seconds)
    return 1000 * statistics.median(ordered), 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def measure(preset: str, algo: str, repeats: int, folder: Path) -> dict[str, tuple[float, ...]]:
    config = TrainingConfig(algo=algo, preset=preset)
    set_seed(0)
    env = make_training_env(config.env_name, 0, config.settings)
    model = create_model(algo, env, 0, config.settings)
    model.learn(model.n_steps * model.n_envs)  # one update: the optimizer's state exists
    model.learn(model.n_steps * model.n_envs // 2, reset_num_timesteps=False)  # and into the next rollout
    state = RunState(algo, config.env_name, 0, model.num_timesteps, run_id="bench")
    start = capture(model)
    plain, ours = folder / f"{preset}_{algo}_sb3.zip", folder / f"{preset}_{algo}_ours.zip"

    def sb3_save() -> None:
        buffer = io.BytesIO()
        model.save(buffer)
        write_atomic(plain, lambda f: f.write(buffer.getbuffer()))

    def timed(action) -> list[float]:
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            action()
            times.append(time.perf_counter() - started)
        return times

    figures = {
        "SB3": (*percentiles(timed(sb3_save)),
                *percentiles(timed(lambda: ALGORITHM_CLASSES[algo].load(plain, env=env, device="cpu"))),
                plain.stat().st_size / 1024),
        "rl-sweep": (*percentiles(timed(lambda: save_checkpoint(model, ours, state, start))),
                     *percentiles(timed(lambda: load_checkpoint(inspect_checkpoint(ours, algo), algo, env,
                                                                config.settings))),
                     ours.stat().st_size / 1024),
    }
    exact = inspect_checkpoint(ours, algo).rollout_start
    loaded = load_checkpoint(inspect_checkpoint(ours, algo), algo, env, config.settings)
    figures["resume"] = percentiles(timed(lambda: restore(loaded, exact)))
    env.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["contract", "tuned"])
    parser.add_argument("--algos", nargs="+", default=["ppo", "a2c"])
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    print(f"Checkpoint save and load, {date.today()}, {os.cpu_count()} CPUs, {args.repeats} of each")
    print(f"{'preset':<9} {'algo':<5} {'path':<9} {'save p50 ms':>11} {'save p99 ms':>11} {'load p50 ms':>11} "
          f"{'load p99 ms':>11} {'zip KiB':>8}")
    with tempfile.TemporaryDirectory() as folder:
        for preset in args.presets:
            for algo in args.algos:
                figures = measure(preset, algo, args.repeats, Path(folder))
                replay = figures.pop("resume")
                for path, row in figures.items():
                    print(f"{preset:<9} {algo:<5} {path:<9} " + " ".join(f"{v:11.1f}" for v in row[:4])
                          + f" {row[4]:8.1f}")
                print(f"{preset:<9} {algo:<5} {'+ exact resume: replay p50 ' + f'{replay[0]:.1f} ms, p99 {replay[1]:.1f} ms'}")


if __name__ == "__main__":
    main()
