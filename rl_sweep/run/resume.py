"""Resuming a run from a checkpoint: its model loaded, and what the checkpoint records checked against the run it
goes on as. A difference is a warning, never a refusal (the checkpoint is the user's to continue): its file
name against its step, no integrity manifest, no run state, another seed, environment, numerics or environment
arguments, no rollout state for an exact resume."""

from __future__ import annotations

import logging
from typing import Any, Callable

from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

from rl_sweep.files.names import checkpoint_step
from rl_sweep.run.checkpoints import CheckpointContents, RunState, load_checkpoint
from rl_sweep.run.config import TrainingConfig
from rl_sweep.run.environments import format_kwargs

log = logging.getLogger(__name__)


def resume(checkpoint: CheckpointContents, config: TrainingConfig, env: Any, run_id: str | None,
           pinning: dict[str, Any], warn: Callable[[str], None]) -> tuple[OnPolicyAlgorithm, RunState]:
    """The model of ``checkpoint`` on ``env``, and the run's state at its step (one made up, from ``config``,
    ``run_id`` and ``pinning``, for a checkpoint without). Each way the checkpoint differs from the run ``config``
    describes, or holds less than an exact resume needs, is ``warn``-ed: the run goes on, with exit code 1."""
    path, state = checkpoint.path, checkpoint.state
    model = load_checkpoint(checkpoint, config.algo, env, config.settings)
    step = model.num_timesteps
    log.info("Resuming from checkpoint: %s (step %d)", path, step)
    named = checkpoint_step(path)
    if named is not None and named != step:
        warn(f"checkpoint file name says step {named} but it holds step {step}; "
             f"continuing from step {step}")
    if not checkpoint.has_manifest:
        warn(f"{path} has no integrity manifest (written before rl-sweep had them, or a plain SB3 zip): "
             "damage or tampering cannot be detected (it was still loaded without unpickling)")
    if state is None:
        warn(f"{path} carries no rl-sweep run state: its algorithm cannot be verified "
             "and episode statistics restart from zero")
        state = RunState(config.algo, config.env_name, config.seed, step, run_id=run_id,
                         env_kwargs=config.env_kwargs, numerics=pinning)
    elif state.seed != config.seed or state.env_name != config.env_name:
        warn(f"checkpoint was trained with seed {state.seed} on {state.env_name}; "
             f"this run continues it with seed {config.seed} on {config.env_name}")
    if state.numerics is not None and state.numerics != pinning:
        warn(f"checkpoint was trained with numerics {state.numerics}; this run continues it with "
             f"{pinning}: it will not go on as it would have")
    if state.env_kwargs != config.env_kwargs:
        changed = sorted(key for key in {*state.env_kwargs, *config.env_kwargs}
                         if state.env_kwargs.get(key, "unset") != config.env_kwargs.get(key, "unset"))
        warn(f"checkpoint was trained with environment arguments "
             f"{format_kwargs(state.env_kwargs) or 'none'}; this run continues it with "
             f"{format_kwargs(config.env_kwargs) or 'none'} "
             f"(changed: {', '.join(changed)})")
    if step >= config.total_timesteps:
        log.info("checkpoint already holds %d of %d steps: finalising only", step, config.total_timesteps)
    elif checkpoint.rollout_start is None:
        warn(f"{path} holds no state of its rollout (written before rl-sweep kept one, or a plain SB3 "
             "zip): the run goes on, but not as it would have without the interruption")
        # Fresh randomness for the rest of the run, the same on every resume from this step.
        model.set_random_seed(config.seed + step)
    return model, state
