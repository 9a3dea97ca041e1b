"""Replays in the report: each algorithm's best, median and worst seed, its final model's greedy policy on its
evaluation's first episode (real CartPole-v1 runs trained here, loaded with the safe loader, rendered and encoded
for real, the videos decoded back); what cannot be replayed is a warning line, never a failure of the report;
``rl-report --no-replays`` renders none; a run's folder alone gets its replay; a sweep on remote storage gets its
replays uploaded beside its report."""

import shutil
import sys
from pathlib import Path

import imageio.v2 as imageio
import pytest

from conftest import ALGOS, CARTPOLE, CORRIDOR, USER_ENVS, load_json, train, trained_runs
from rl_sweep.errors import ExitCode
from rl_sweep.report import replays
from rl_sweep.report.cli import main as rl_report
from rl_sweep.report.document import write_report as _write_report, write_sweep_report
from rl_sweep.report.runs import load_run
from rl_sweep.storage import Storage


def write_report(runs, out_dir, **options):
    """Fewer bootstrap replicates than the default: the statistics are not what is tested here."""
    return _write_report(runs, out_dir, reps=500, **options)


def results(folder: Path) -> dict:
    return load_json(next(folder.glob("*_results.json")))["experiment_results"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return trained_runs(tmp_path_factory)


@pytest.fixture(scope="module")
def report(runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("replayed") / "report"
    return out, write_report([load_run(folder) for folder in reversed(runs)], out)


def test_the_best_median_and_worst_seed_of_each_algorithm_are_replayed_as_their_evaluation_played(runs, report):
    out, numbers = report
    assert numbers["replays"]["warnings"] == []
    rendered = numbers["replays"]["rendered"]
    for algo in ALGOS:
        finals = {folder.name: results(folder)["metrics"] for folder in runs if folder.name.startswith(algo)}
        order = sorted(finals, key=lambda name: (-finals[name]["final_reward_mean"], int(name[-1])))
        mine = [r for r in rendered if r["algo"] == algo]
        assert [(r["rank"], r["run"]) for r in mine] == list(zip(("best", "median", "worst"), order))
        for replay in mine:
            metrics = finals[replay["run"]]
            # Seeded as the evaluation seeds its first (here its only) episode: the very same episode.
            assert replay["return"] == metrics["final_reward_mean"]
            assert replay["steps"] == metrics["episode_length_mean"] == replay["frames"]
            assert replay["path"] == f"replays/{replay['run']}.mp4" and replay["env"] == CARTPOLE
            # One frame before each action: as many frames in the video as steps in the episode.
            reader = imageio.get_reader(out / replay["path"], format="FFMPEG")
            meta = reader.get_meta_data()
            assert (meta["codec"], meta["pix_fmt"].split("(")[0], meta["fps"]) == ("h264", "yuv420p", 50.0)
            assert reader.count_frames() == replay["frames"]
            assert reader.get_data(0).shape == (400, 600, 3)
            reader.close()
    assert load_json(out / "comparison.json")["replays"] == numbers["replays"]


def test_the_report_shows_each_replay_with_its_seed_rank_and_return(report):
    out, numbers = report
    page, markdown = (out / "report.html").read_text(), (out / "report.md").read_text()
    files = {r["path"] for r in numbers["replays"]["rendered"]}
    assert page.count("<video controls muted loop") == len(files) == 6
    for replay in numbers["replays"]["rendered"]:
        assert f'src="{replay["path"]}"' in page and f"]({replay['path']})" in markdown
        caption = (f"{replay['algo'].upper()} seed {replay['seed']}: the {replay['rank']} of 3 seeds by final "
                   f"evaluation return ({replay['final_reward_mean']:.1f}). This episode: return "
                   f"{replay['return']:.1f} in {replay['steps']:,} steps.")
        assert caption in page and caption in markdown
    assert markdown.index("## Replays") < markdown.index("## Final performance")


def test_rl_report_on_one_runs_folder_renders_that_runs_replay(runs, tmp_path):
    assert rl_report([str(runs[0]), "--out", str(tmp_path / "out")]) == ExitCode.OK
    rendered = load_json(tmp_path / "out/summary.json")["report"]["replays"]["rendered"]
    assert [(r["rank"], r["path"]) for r in rendered] == [(rank, "replays/ppo_seed0.mp4")
                                                           for rank in ("best", "median", "worst")]
    assert (tmp_path / "out/replays/ppo_seed0.mp4").stat().st_size > 0
    assert "the best, median and worst of 1 seed by final evaluation return" in (tmp_path / "out/report.md").read_text()


def test_no_replays_renders_none(runs, tmp_path):
    assert rl_report([str(runs[0]), "--out", str(tmp_path / "out"), "--no-replays"]) == ExitCode.OK
    assert not (tmp_path / "out/replays").exists()
    assert "<video" not in (tmp_path / "out/report.html").read_text()
    assert load_json(tmp_path / "out/comparison.json")["replays"] is None


def test_an_environment_that_cannot_render_and_a_missing_model_are_warnings_not_failures(runs, tmp_path,
                                                                                         monkeypatch):
    monkeypatch.syspath_prepend(USER_ENVS)
    corridor = train(tmp_path / "corridor", "a2c", 0, env=CORRIDOR, timesteps=300)
    no_model = shutil.copytree(runs[3], tmp_path / "copy" / runs[3].name)  # a2c_seed0
    (no_model / "a2c_seed0_model.zip").unlink()
    numbers = write_report([load_run(f) for f in (runs[0], no_model, corridor)], tmp_path / "report")
    cartpole, unrendered = numbers["environments"][CARTPOLE]["replays"], numbers["environments"][CORRIDOR]["replays"]
    # Each environment's replays in its own folder.
    assert {r["path"] for r in cartpole["rendered"]} == {"replays/CartPole-v1/ppo_seed0.mp4"}
    assert (tmp_path / "report/replays/CartPole-v1/ppo_seed0.mp4").stat().st_size > 0
    [missing] = cartpole["warnings"]
    assert missing.startswith("No replay of a2c_seed0 (the best, median and worst A2C seed): its final model ")
    assert missing.endswith("a2c_seed0_model.zip is missing.")
    [cannot] = unrendered["warnings"]
    assert cannot.startswith(f"No replay of a2c_seed0 (the best, median and worst A2C seed): {CORRIDOR} cannot "
                             "render frames (render_mode='rgb_array')")
    assert unrendered["rendered"] == [] and not (tmp_path / "report/replays/rl_sweep_test_envs-Corridor-v0").exists()
    markdown = (tmp_path / "report/report.md").read_text()
    assert missing in markdown and cannot in markdown
    assert 'src="replays/CartPole-v1/ppo_seed0.mp4"' in (tmp_path / "report/report.html").read_text()


def test_without_a_video_encoder_replays_are_animated_gifs(runs, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # import imageio_ffmpeg now fails
    numbers = write_report([load_run(runs[0])], tmp_path / "report")
    [replay, *_] = numbers["replays"]["rendered"]
    assert replay["path"] == "replays/ppo_seed0.gif"
    frames = imageio.mimread(tmp_path / "report" / replay["path"])
    assert 1 <= len(frames) <= replay["frames"]  # Pillow merges identical frames
    assert frames[0].shape[:2] == (200, 300)  # half size
    assert numbers["replays"]["warnings"][0].startswith("Replays are animated GIFs: no H.264 video encoder works here")
    assert '<img src="replays/ppo_seed0.gif"' in (tmp_path / "report/report.html").read_text()


def test_an_episode_longer_than_the_frame_cap_plays_to_its_end_and_shows_its_first_frames(runs, tmp_path,
                                                                                          monkeypatch):
    monkeypatch.setattr(replays, "MAX_FRAMES", 5)
    numbers = write_report([load_run(runs[0])], tmp_path / "report")
    [replay, *_] = numbers["replays"]["rendered"]
    assert replay["frames"] == 5 and replay["steps"] == results(runs[0])["metrics"]["episode_length_mean"] > 5
    assert replay["return"] == results(runs[0])["metrics"]["final_reward_mean"]
    assert imageio.get_reader(tmp_path / "report" / replay["path"], format="FFMPEG").count_frames() == 5
    assert "steps, the first 5 shown." in (tmp_path / "report/report.md").read_text()


def test_a_sweep_on_remote_storage_fetches_the_models_and_uploads_the_replays_beside_its_report(runs, tmp_path):
    storage, folder = Storage("mock:///bucket/results"), "sweeps/s"
    trials = []
    for local in (runs[0], runs[3]):
        storage.fs.create_dir(storage.path(folder, local.name))  # pyarrow's mock filesystem wants folders
        storage.upload(local, folder, local.name)
        trials.append({"trial": local.name, "env": CARTPOLE, "folder": f"{folder}/{local.name}",
                       "experiment_dir": storage.uri(folder, local.name), "status": "completed"})
    storage.fs.create_dir(storage.path(folder, "replays"))  # pyarrow's mock filesystem wants it (S3 has no folders)
    summary = {"trials": trials, "command": "rl-sweep (test)", "options": {"algos": ["a2c", "ppo"]}}
    numbers = write_sweep_report(storage, folder, summary, reps=500)
    assert numbers["replays"]["warnings"] == []
    assert [r["path"] for r in numbers["replays"]["rendered"][::3]] == ["replays/a2c_seed0.mp4",
                                                                        "replays/ppo_seed0.mp4"]
    for name in ("a2c_seed0.mp4", "ppo_seed0.mp4"):
        assert storage.exists(folder, "replays", name)
    assert 'src="replays/a2c_seed0.mp4"' in storage.read_text(folder, "report.html")
