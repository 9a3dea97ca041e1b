"""Unit test of the stepper: SB3's learn() paused at exactly the steps asked for."""

import threading

from stable_baselines3 import A2C

from rl_sweep.run.environments import make_env
from rl_sweep.run.stepper import Stepper


def test_stepper_pauses_at_exactly_each_target_and_ends_at_the_total():
    env = make_env("CartPole-v1", seed=0, n_envs=2)
    model = A2C("MlpPolicy", env, n_steps=5, seed=0, verbose=0)
    seen: list[int] = []
    stepper = Stepper(model, total_timesteps=60, observe=lambda step, infos: seen.append(step),
                      stop=threading.Event())
    reached = [stepper.advance(target) for target in (10, 30, 60)]
    stepper.close()
    env.close()
    assert reached == [10, 30, 60] and stepper.finished
    assert seen == list(range(2, 61, 2))  # every environment step observed once, two envs at a time
    assert model.num_timesteps == 60
