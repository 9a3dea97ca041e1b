"""The keys of the results a trial reports to Tune (:meth:`rl_sweep.sweep.trainable.RunTrainable.step`), named once:
the trainable writes them, the trial records, the live display and the search's scheduler read them. Tune's own keys
are spelled as ``ray.tune.result`` spells them; this module imports no Ray, so that what reads them need not."""

TIMESTEPS = "timesteps_total"  # ray.tune.result.TIMESTEPS_TOTAL: the steps trained
EPISODES = "episodes_total"  # ray.tune.result.EPISODES_TOTAL: the training episodes ended
TIME_TOTAL = "time_total_s"  # ray.tune.result.TIME_TOTAL_S: the trial's wall time, which Tune adds
TIME_STEP = "time_this_iter_s"  # ray.tune.result.TIME_THIS_ITER_S: the last step's wall time, which Tune adds
TIMESTAMP = "timestamp"  # ray.tune.result.TIMESTAMP: when the trial reported, whole Unix seconds, which Tune adds
REPORTED_AT = "reported_at"  # when the trial reported, Unix seconds to the microsecond: a trial's end, for utilisation
DONE = "done"  # ray.tune.result.DONE: the run has ended
METRIC = "episode_reward_mean"  # the training return over the last 100 episodes (NaN before the first ends)
LOSS = "loss"
STEPS_PER_SECOND = "steps_per_second"
EXPERIMENT_DIR = "experiment_dir"  # where the run's files end up: a local folder or a storage URI
STORAGE_BYTES = "storage_bytes_uploaded"  # on remote storage: what the trial's mirror has uploaded
# At the run's end, from its results JSON's metrics:
FINAL_REWARD_MEAN = "final_reward_mean"
FINAL_REWARD_STD = "final_reward_std"
CONVERGED = "converged"
TRAINING_TIME = "training_time_seconds"
FINAL = (FINAL_REWARD_MEAN, FINAL_REWARD_STD, CONVERGED, TRAINING_TIME)
