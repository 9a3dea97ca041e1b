"""Contract recovery behaviour: atomic writes, strict JSON, episode statistics (unit tests)."""

import json
import math

import pytest

from rl_sweep.atomic import write_atomic, write_json_atomic
from rl_sweep.run.metrics import EpisodeStats


def test_failed_write_keeps_previous_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "results.json"
    write_json_atomic(target, {"ok": 1})

    def fail_halfway(f):
        f.write(b'{"half": ')
        raise RuntimeError("crash in the middle of a write")

    with pytest.raises(RuntimeError):
        write_atomic(target, fail_halfway)
    assert json.loads(target.read_text()) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_no_nan_or_infinity_reaches_json(tmp_path):
    target = tmp_path / "m.json"
    write_json_atomic(target, {"a": math.nan, "b": [math.inf, 1.5], "c": {"d": -math.inf}})
    assert json.loads(target.read_text()) == {"a": None, "b": [None, 1.5], "c": {"d": None}}


def test_episode_stats_window_and_aggregates():
    stats = EpisodeStats()
    assert stats.recent_means() == (None, None)
    for i in range(150):
        stats.add(float(i), 10 + i)
    reward, length = stats.recent_means()
    assert reward == pytest.approx(sum(range(50, 150)) / 100)  # latest 100 episodes only
    assert length == pytest.approx(10 + sum(range(50, 150)) / 100)
    agg = stats.aggregated(total_timesteps=1234)
    assert agg["reward_mean"] == pytest.approx(74.5)
    assert agg["reward_std"] == pytest.approx(math.sqrt((150**2 - 1) / 12))
    assert (agg["reward_min"], agg["reward_max"], agg["total_timesteps"]) == (0.0, 149.0, 1234)


def test_episode_stats_survive_a_checkpoint_round_trip():
    stats = EpisodeStats()
    for i in range(5):
        stats.add(-float(i), i + 1)
    restored = EpisodeStats(json.loads(json.dumps(stats.state())))
    assert restored.state() == stats.state()
    assert restored.recent_means() == stats.recent_means()
