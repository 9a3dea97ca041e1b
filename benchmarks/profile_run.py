"""Where a run's wall time goes: environment steps, policy forward passes, gradient updates, SB3's own
bookkeeping and the pipeline's costs, for the engine's run and a bare SB3 ``model.learn`` side by side.

    python benchmarks/profile_run.py                         # tuned preset, PPO and A2C, 100,000 steps each
    python benchmarks/profile_run.py --algos ppo --timesteps 5000 --repeats 3

For each algorithm, two runs of the same settings and seed, each in a fresh process, one after the other
(bare SB3 first, then the pipeline; ``--repeats`` alternates them and takes each figure's median):

- bare SB3: the training environments from ``rl_sweep.run.environments.make_training_env`` and the model
  from ``rl_sweep.run.algorithms.create_model`` (so the settings are the run's), then ``model.learn(steps)``;
- pipeline: the engine, as ``rl-train`` drives it: ``TrainingRun(config)``, ``step()`` until done,
  ``finish()`` (final model, evaluation, results JSON), ``close()``.

The steps are rounded up to whole rollouts (n_envs x n_steps), so that both do the same updates: a bare
``learn`` finishes its last rollout, which the engine would otherwise stop inside.

This script alone wraps methods in a timer (``time.perf_counter``, nothing in ``rl_sweep/`` changes). Each
wrapped call charges its category from entry to exit, less the wrapped calls inside it (exclusive time, per
thread), so the categories add up to the wall time:

- environment steps: the training VecEnv's ``step_async`` and ``step_wait`` (VecNormalize, DummyVecEnv,
  Monitor, rl-sweep's ReplayableEnv, Gymnasium's wrappers), split into LunarLander's own ``step`` and ``reset``
  (Box2D) and the rest (the wrappers and the VecEnv);
- policy forward passes: ``policy.forward`` and ``policy.predict_values`` (the rollout's last values and
  truncated episodes' bootstraps) on the model's policy; the updates never call them;
- gradient updates: ``model.train()``;
- SB3 bookkeeping: the rest of ``model.learn`` (rollout buffer, tensor conversions, callbacks, logger);
- set-up: ``make_training_env`` and ``create_model``;
- pipeline costs, timed directly: the Stepper's per-step and per-rollout callbacks, ``TrainingRun._observe``
  (episode statistics and time-series records), ``save_checkpoint`` (every checkpoint and the final model),
  ``MetricsRecorder.write_json`` (metrics JSON and CSV), ``TrainingRun._write_results`` (results JSON), the
  rest of the engine's own code (checks, folder, logs), and the stepper thread's hand-offs: the wall time no
  timed call accounts for, the two threads' switches (each thread's waits on the other are not counted);
- final evaluation: ``evaluate`` (the pipeline only).

The pipeline's costs are also measured by difference: the pipeline's wall time, less its evaluation, less
bare SB3's. On this shared 2-CPU machine that difference drifts by several per cent between runs; the
directly timed costs do not. The timer's own cost (its calls times a calibrated per-call cost) is printed.
"""

from __future__ import annotations

import argparse
import functools
import inspect
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from preset_runs import interval_for, preset_run_parser

ENV = "LunarLander-v3"
LIBRARIES = ("stable_baselines3", "gymnasium", "torch", "numpy", "box2d")
WAIT = "wait"  # a thread blocked on the other: not counted

# The categories, in the table's order: (key, label). Keys starting "pipeline" are the pipeline's costs.
ROWS = [
    ("env.core", "  LunarLander step and reset (Box2D)"),
    ("env.wrappers", "  wrappers and VecEnv"),
    ("forward", "policy forward passes (rollouts)"),
    ("train", "gradient updates (model.train)"),
    ("sb3", "SB3 bookkeeping (rest of learn)"),
    ("setup", "set-up: environments and model"),
    ("pipeline.callback", "pipeline: Stepper callbacks"),
    ("pipeline.observe", "pipeline: episode stats, records"),
    ("pipeline.checkpoints", "pipeline: checkpoints, final model"),
    ("pipeline.metrics", "pipeline: metrics JSON and CSV"),
    ("pipeline.results", "pipeline: results JSON"),
    ("pipeline.engine", "pipeline: rest of the engine"),
    ("pipeline.handoffs", "pipeline: thread hand-offs (untimed)"),
    ("evaluation", "final evaluation"),
    ("rest", "rest (seeding, closing)"),
]
LABELS = dict(ROWS)
# What a change outside SB3's algorithm could cut, and how.
CUTTABLE = {
    "env": "environment steps",
    "setup": "set-up (environments and model)",
    "evaluation": "the final evaluation (fewer episodes, or beside training)",
    **{key: LABELS[key].removeprefix("pipeline: ") + " (a pipeline cost)" for key, _ in ROWS
       if key.startswith("pipeline")},
}


# -- the timer ----------------------------------------------------------------------------------------


class Clock:
    """Exclusive wall time per category and thread: a timed call charges its category from entry to exit,
    less the timed calls made inside it, which charge theirs."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._threads: list[tuple[defaultdict[str, float], Counter]] = []

    def _state(self) -> Any:
        local = self._local
        if not hasattr(local, "stack"):
            local.stack, local.seconds, local.calls = [], defaultdict(float), Counter()
            self._threads.append((local.seconds, local.calls))
        return local

    def wrap(self, category: str, function: Callable, only: set[int] | None = None) -> Callable:
        """``function`` timed as ``category``; with ``only``, just its calls on an object whose id is in it."""

        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if only is not None and id(args[0]) not in only:
                return function(*args, **kwargs)
            state = self._state()
            stack = state.stack
            now = time.perf_counter()
            if stack:
                state.seconds[stack[-1][0]] += now - stack[-1][1]
            stack.append([category, now])
            state.calls[category] += 1
            try:
                return function(*args, **kwargs)
            finally:
                end = time.perf_counter()
                name, since = stack.pop()
                state.seconds[name] += end - since
                if stack:
                    stack[-1][1] = end

        return timed

    def totals(self) -> tuple[dict[str, float], Counter]:
        seconds: defaultdict[str, float] = defaultdict(float)
        calls: Counter = Counter()
        for thread_seconds, thread_calls in self._threads:
            for name, value in thread_seconds.items():
                seconds[name] += value
            calls.update(thread_calls)
        return dict(seconds), calls


def per_call_cost() -> float:
    """Seconds a timed call adds, from a loop of timed and untimed calls of a function that does nothing."""
    clock, n = Clock(), 200_000

    def nothing(_: Any) -> None:
        return None

    timed = clock.wrap("x", nothing, only={id(clock)})
    best = math.inf
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(n):
            nothing(clock)
        plain = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(n):
            timed(clock)
        best = min(best, (time.perf_counter() - started - plain) / n)
    return max(best, 0.0)


def patch(cls: type, name: str, category: str, clock: Clock, only: set[int]) -> None:
    """Time ``cls.name`` as ``category`` for the objects in ``only`` (an inherited method is shadowed on ``cls``)."""
    patched = cls.__dict__.get("_profile_run_patched", set())
    if name not in patched:
        setattr(cls, name, clock.wrap(category, getattr(cls, name), only))
        cls._profile_run_patched = patched | {name}


def instrument(clock: Clock) -> tuple[Callable, Callable]:
    """Install the timers; return ``make_training_env`` and ``create_model`` as the engine now calls them."""
    from rl_sweep.run import engine
    from rl_sweep.run.algorithms import create_model
    from rl_sweep.run.environments import make_training_env
    from rl_sweep.run.metrics import MetricsRecorder
    from rl_sweep.run.stepper import Stepper

    envs: set[int] = set()  # the training VecEnv
    cores: set[int] = set()  # its LunarLander instances, unwrapped
    models: set[int] = set()
    policies: set[int] = set()

    def make_env(*args: Any, **kwargs: Any) -> Any:
        env = make_training_env(*args, **kwargs)
        envs.add(id(env))
        for name in ("step_async", "step_wait"):
            patch(type(env), name, "env.wrappers", clock, envs)
        for sub in env.unwrapped.envs:
            core = sub.unwrapped
            cores.add(id(core))
            for name in ("step", "reset"):
                patch(type(core), name, "env.core", clock, cores)
        return env

    def new_model(*args: Any, **kwargs: Any) -> Any:
        model = create_model(*args, **kwargs)
        models.add(id(model))
        policies.add(id(model.policy))
        patch(type(model), "learn", "sb3", clock, models)
        patch(type(model), "train", "train", clock, models)
        for name in ("forward", "predict_values"):
            patch(type(model.policy), name, "forward", clock, policies)
        return model

    timed_make_env = clock.wrap("setup", make_env)
    timed_new_model = clock.wrap("setup", new_model)
    engine.make_training_env = timed_make_env
    engine.create_model = timed_new_model
    engine.save_checkpoint = clock.wrap("pipeline.checkpoints", engine.save_checkpoint)
    engine.evaluate = clock.wrap("evaluation", engine.evaluate)
    engine.TrainingRun._observe = clock.wrap("pipeline.observe", engine.TrainingRun._observe)
    engine.TrainingRun._write_results = clock.wrap("pipeline.results", engine.TrainingRun._write_results)
    MetricsRecorder.write_json = clock.wrap("pipeline.metrics", MetricsRecorder.write_json)
    Stepper._learn = clock.wrap("pipeline.engine", Stepper._learn)  # the worker thread's own code around learn
    Stepper._on_step = clock.wrap("pipeline.callback", Stepper._on_step)
    Stepper._on_rollout_start = clock.wrap("pipeline.callback", Stepper._on_rollout_start)
    init = Stepper.__init__

    def stepper_init(self: Stepper, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        # Each thread waits on the other through these two queues: that time is the other thread's.
        self._events.get = clock.wrap(WAIT, self._events.get)
        self._resume.get = clock.wrap(WAIT, self._resume.get)

    Stepper.__init__ = stepper_init
    return timed_make_env, timed_new_model


# -- one run, in a child process ----------------------------------------------------------------------


def rollout_size(algo: str, preset: str) -> int:
    from rl_sweep.run.algorithms import ALGORITHM_CLASSES
    from rl_sweep.run.config import TrainingConfig

    settings = TrainingConfig(algo=algo, preset=preset).settings
    n_steps = settings.hyperparameters.get(
        "n_steps", inspect.signature(ALGORITHM_CLASSES[algo].__init__).parameters["n_steps"].default)
    return settings.n_envs * n_steps


def child(mode: str, algo: str, preset: str, steps: int, interval: int, eval_episodes: int) -> dict:
    from rl_sweep.logs import configure_console
    from rl_sweep.numerics import pin
    from rl_sweep.run.config import TrainingConfig
    from rl_sweep.run.engine import TrainingRun
    from rl_sweep.run.seeding import set_seed

    clock = Clock()
    make_env, new_model = instrument(clock)
    configure_console(verbose=False)
    with tempfile.TemporaryDirectory() as out:
        config = TrainingConfig(algo=algo, preset=preset, total_timesteps=steps, checkpoint_interval=interval,
                                output_dir=Path(out) / "run", eval_episodes=eval_episodes)
        outcome: dict[str, Any] = {}

        def bare() -> None:
            pin()
            set_seed(config.seed)
            env = make_env(config.env_name, config.seed, config.settings, config.env_kwargs)
            model = new_model(algo, env, config.seed, config.settings)
            model.learn(steps)
            outcome.update(num_timesteps=model.num_timesteps, n_updates=model._n_updates)
            env.close()

        def pipeline() -> None:
            run = TrainingRun(config)
            try:
                while not run.done:
                    run.step()
                run.finish()
                outcome.update(num_timesteps=run.model.num_timesteps, n_updates=run.model._n_updates,
                               checkpoints=len(run.checkpoints.names))
            finally:
                run.close()

        root = clock.wrap("rest" if mode == "bare" else "pipeline.engine", bare if mode == "bare" else pipeline)
        load = os.getloadavg()[0]
        started = time.perf_counter()
        root()
        wall = time.perf_counter() - started
    seconds, calls = clock.totals()
    seconds.pop(WAIT, None)
    counted = sum(seconds.values())
    if mode == "pipeline":
        seconds["pipeline.handoffs"] = wall - counted
    else:
        seconds["rest"] = seconds.get("rest", 0.0) + wall - counted  # nothing runs beside it: about 0
    calls.pop(WAIT, None)
    return {"mode": mode, "wall": wall, "seconds": seconds, "calls": sum(calls.values()),
            "train_calls": calls["train"], "load_at_start": load, **outcome}


def measure(mode: str, algo: str, args: argparse.Namespace, steps: int, interval: int) -> dict:
    command = [sys.executable, __file__, "--child", mode, "--algos", algo, "--preset", args.preset,
               "--timesteps", str(steps), "--checkpoint-interval", str(interval),
               "--eval-episodes", str(args.eval_episodes)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{mode} {algo} failed (exit code {done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- the table ----------------------------------------------------------------------------------------


def median_run(runs: list[dict]) -> dict:
    """Each figure's median over the repeats of one mode."""
    keys = {key for run in runs for key in run["seconds"]}
    return {**runs[0], "wall": statistics.median(r["wall"] for r in runs),
            "seconds": {key: statistics.median(r["seconds"].get(key, 0.0) for r in runs) for key in keys}}


def cell(seconds: float | None, wall: float) -> str:
    if seconds is None:
        return f"{'-':>8} {'':>6}"
    return f"{seconds:8.2f} {100 * seconds / wall:5.1f}%"


def table(algo: str, steps: int, interval: int, bare: dict, pipe: dict, eval_episodes: int) -> str:
    """Print one algorithm's table; return a line naming its largest share that a change outside SB3's
    algorithm could cut."""
    same = "the same" if (bare["train_calls"], bare["n_updates"]) == (pipe["train_calls"], pipe["n_updates"]) \
        else f"NOT the same: bare {bare['train_calls']} train() calls, {bare['n_updates']} updates"
    print(f"\n{algo.upper()}: {steps:,} steps, {pipe['train_calls']} rollouts each trained on ({same} in both), "
          f"checkpoint every {interval:,} steps ({pipe.get('checkpoints', 0)} and the final model saved), "
          f"{eval_episodes} evaluation episodes")
    width = 38
    print(f"{'':<{width}} {'pipeline':>15}   {'bare SB3':>15}")
    print(f"{'':<{width}} {'s':>8} {'share':>6}   {'s':>8} {'share':>6}")
    print(f"{'wall time':<{width}} {cell(pipe['wall'], pipe['wall'])}   {cell(bare['wall'], bare['wall'])}")
    print(f"{'steps/s, whole run':<{width}} {steps / pipe['wall']:8.0f} {'':>6}   {steps / bare['wall']:8.0f}")
    train_pipe = pipe["wall"] - pipe["seconds"].get("setup", 0) - pipe["seconds"].get("evaluation", 0)
    train_bare = bare["wall"] - bare["seconds"].get("setup", 0)
    print(f"{'steps/s, less set-up and evaluation':<{width}} {steps / train_pipe:8.0f} {'':>6}   "
          f"{steps / train_bare:8.0f}")

    def env(run: dict) -> float:
        return run["seconds"].get("env.core", 0.0) + run["seconds"].get("env.wrappers", 0.0)

    print(f"{'environment steps':<{width}} {cell(env(pipe), pipe['wall'])}   {cell(env(bare), bare['wall'])}")
    for key, label in ROWS:
        p, b = pipe["seconds"].get(key), bare["seconds"].get(key)
        if key.startswith("pipeline") or key == "evaluation":
            b = None
        if key == "rest":
            p = None
        if p is None and b is None:
            continue
        print(f"{label:<{width}} {cell(p, pipe['wall'])}   {cell(b, bare['wall'])}")
    direct = sum(value for key, value in pipe["seconds"].items() if key.startswith("pipeline"))
    difference = pipe["wall"] - pipe["seconds"].get("evaluation", 0.0) - bare["wall"]
    print(f"{'pipeline costs, timed directly':<{width}} {cell(direct, pipe['wall'])}")
    print(f"{'pipeline costs, by difference':<{width}} {cell(difference, pipe['wall'])}   "
          "(pipeline wall - evaluation - bare wall)")
    # The largest share a change outside SB3's algorithm could cut, in the pipeline's run.
    candidates = {"env": env(pipe), **{key: pipe["seconds"].get(key, 0.0) for key in CUTTABLE if key != "env"}}
    best = max(candidates, key=candidates.get)
    what = CUTTABLE[best]
    if best == "env":
        core, wrappers = pipe["seconds"].get("env.core", 0.0), pipe["seconds"].get("env.wrappers", 0.0)
        how = "more parallel environments" if core >= wrappers else "cheaper wrappers"
        what += (f" ({how}: LunarLander's own {100 * core / env(pipe):.0f}% of it, wrappers and VecEnv "
                 f"{100 * wrappers / env(pipe):.0f}%)")
    share = candidates[best] / pipe["wall"]
    return f"{algo.upper()} {what}: {100 * share:.1f}% ({candidates[best]:.1f} s) of the pipeline run"


def sb3_work(run: dict) -> float:
    """Seconds inside SB3's learn that are SB3's: every category but the set-up, the pipeline's and the rest."""
    return sum(run["seconds"].get(key, 0.0) for key in ("env.core", "env.wrappers", "forward", "train", "sb3"))


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    parser = preset_run_parser(__doc__, timesteps=100000)
    parser.add_argument("--eval-episodes", type=int, default=None, help="default: rl-train's")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each mode, alternating; medians")
    parser.add_argument("--child", choices=["bare", "pipeline"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.eval_episodes is None:
        from rl_sweep.run.config import DEFAULT_EVAL_EPISODES

        args.eval_episodes = DEFAULT_EVAL_EPISODES
    if args.child:
        print(json.dumps(child(args.child, args.algos[0], args.preset, args.timesteps, args.checkpoint_interval,
                               args.eval_episodes)))
        return
    versions = ", ".join(f"{name} {version(name)}" for name in LIBRARIES)
    print(f"Where a run's time goes, {datetime.now():%Y-%m-%d %H:%M}, {cpu_model()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"Python {platform.python_version()}, {versions}")
    print(f"{ENV}, preset {args.preset}, at least {args.timesteps:,} steps (whole rollouts); each run in a fresh "
          f"process, one after the other (bare SB3, then the pipeline), {args.repeats} time(s), medians")
    cost = per_call_cost()
    lines = []
    for algo in args.algos:
        rollout = rollout_size(algo, args.preset)
        steps = math.ceil(args.timesteps / rollout) * rollout
        interval = interval_for(args, algo)
        runs: dict[str, list[dict]] = {"bare": [], "pipeline": []}
        for _ in range(args.repeats):
            for mode in runs:
                runs[mode].append(measure(mode, algo, args, steps, interval))
        bare, pipe = median_run(runs["bare"]), median_run(runs["pipeline"])
        for run in (bare, pipe):
            if run["num_timesteps"] != steps:
                sys.exit(f"{algo} {run['mode']} ran {run['num_timesteps']} steps, not {steps}")
        line = table(algo, steps, interval, bare, pipe, args.eval_episodes)
        lines.append(line)
        overhead = ", ".join(f"{r['mode']} {r['calls']:,} calls, {r['calls'] * cost:.2f} s "
                             f"({100 * r['calls'] * cost / r['wall']:.1f}%)" for r in (pipe, bare))
        print(f"timer's own cost ({1e9 * cost:.0f} ns a call, in the rows above): {overhead}")
        pairs = ", ".join(f"{b['wall']:.1f} -> {p['wall']:.1f} ({sb3_work(b):.1f} -> {sb3_work(p):.1f}; load "
                          f"{b['load_at_start']:.2f}, {p['load_at_start']:.2f})"
                          for b, p in zip(runs["bare"], runs["pipeline"]))
        print(f"each pair, wall s bare -> pipeline (SB3's own work: environment steps, forward passes, updates and "
              f"bookkeeping; load average at each start): {pairs}", flush=True)
    print("\nLargest share a change outside SB3's algorithm could cut: " + "; ".join(lines))


if __name__ == "__main__":
    main()
