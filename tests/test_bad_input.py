"""Bad input: the contract's exit code and one line on stderr, before any work, nothing earlier changed
(real subprocesses of rl-train, rl-sweep and rl-report)."""

import json
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import cli_env, load_json, problem_lines, run_cli, start_cli
from rl_sweep.run.checkpoints import inspect_checkpoint


def earlier_run(cwd: Path) -> dict[str, bytes]:
    """A folder that an earlier run left, which no failed command may touch."""
    folder = cwd / "results/experiments/ppo_seed42"
    folder.mkdir(parents=True)
    (folder / "ppo_seed42_results.json").write_text('{"experiment_results": {}}')
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def unchanged(cwd: Path, before: dict[str, bytes]) -> bool:
    folder = cwd / "results/experiments/ppo_seed42"
    return {p.name: p.read_bytes() for p in folder.iterdir()} == before and \
        sorted(p.name for p in (cwd / "results").rglob("*")) == ["experiments", "ppo_seed42", "ppo_seed42_results.json"]


def command(tool: str, *args: str) -> list[str]:
    return [sys.executable, "-m", f"rl_sweep.{tool}", *args]


def test_a_config_file_that_is_not_there_is_named_as_a_missing_file(tmp_path):
    result = run_cli(["--algo", "ppo", "--config", "none.yaml"], tmp_path)
    assert result.returncode == 3, result.stderr
    [line] = problem_lines(result.stderr)
    assert "no file none.yaml (a preset file for --config)" in line


PRESETS = {
    "n_steps_not_an_integer": ("ppo:\n  timesteps: 1000\n  hyperparameters: {n_steps: abc}\n", "n_steps"),
    "schedule_not_a_number": ("ppo:\n  timesteps: 1000\n  hyperparameters: {learning_rate: lin_abc}\n",
                              "learning_rate"),
    "unknown_hyperparameter": ("ppo:\n  timesteps: 1000\n  hyperparameters: {foo: 1}\n", "foo"),
    "unknown_key": ("ppo:\n  timesteps: 1000\n  foo: 1\n", "foo"),
}


@pytest.mark.parametrize("tool", ["train", "sweep"])
@pytest.mark.parametrize("case", sorted(PRESETS))
def test_a_bad_preset_file_exits_3_naming_the_file_algorithm_and_key(tmp_path, tool, case):
    text, key = PRESETS[case]
    (tmp_path / "bad.yaml").write_text(text)
    before = earlier_run(tmp_path)
    args = ["--algo", "ppo"] if tool == "train" else ["--algos", "ppo", "--no-dashboard"]
    result = subprocess.run(command(tool, *args, "--config", "bad.yaml"), cwd=tmp_path, env=cli_env(),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 3, result.stderr
    [line] = problem_lines(result.stderr)
    assert "bad.yaml" in line and "ppo" in line and key in line
    assert unchanged(tmp_path, before)


@pytest.mark.parametrize("seed", ["-1", "99999999999"])
def test_a_seed_out_of_range_exits_3_naming_the_option_and_range(tmp_path, seed):
    before = earlier_run(tmp_path)
    result = run_cli(["--algo", "ppo", "--seed", seed], tmp_path)
    assert result.returncode == 3, result.stderr
    [line] = problem_lines(result.stderr)
    assert "--seed" in line and "2147483647" in line
    assert unchanged(tmp_path, before)


@pytest.mark.parametrize("args, code, says", [
    (["--cpus-per-trial", "0"], 3, "--cpus-per-trial"),
    (["--seed-start", "-5"], 3, "--seed"),
    (["--address", "127.0.0.1:1"], 2, "cannot reach the Ray cluster at 127.0.0.1:1"),
    (["--resume", "nosuchsweep"], 3, "no sweep named 'nosuchsweep'"),
])
def test_sweep_bad_input_fails_before_ray_starts(tmp_path, args, code, says):
    started = time.monotonic()
    result = subprocess.run(command("sweep", *args, "--no-dashboard"), cwd=tmp_path, env=cli_env(),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == code, result.stderr
    [line] = problem_lines(result.stderr)
    assert says in line
    assert time.monotonic() - started < 30
    assert not (tmp_path / "results").exists()


def test_a_sweep_name_in_use_is_refused_with_exit_3(tmp_path):
    sweep = tmp_path / "results/sweeps/taken"
    sweep.mkdir(parents=True)
    (sweep / "sweep.json").write_text("{}")
    result = subprocess.run(command("sweep", "--name", "taken", "--no-dashboard"), cwd=tmp_path, env=cli_env(),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 3, result.stderr
    [line] = problem_lines(result.stderr)
    assert "--resume taken" in line
    assert [p.name for p in sweep.iterdir()] == ["sweep.json"] and (sweep / "sweep.json").read_text() == "{}"


def test_resume_from_a_folder_exits_6_saying_so(tmp_path):
    (tmp_path / "run").mkdir()
    result = run_cli(["--algo", "ppo", "--resume-from", "run"], tmp_path)
    assert result.returncode == 6
    [line] = problem_lines(result.stderr)
    assert "is a folder" in line


def test_report_bad_input(tmp_path):
    def rl_report(*args):
        return subprocess.run(command("report", *map(str, args)), cwd=tmp_path, env=cli_env(), capture_output=True,
                              text=True, timeout=300)

    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_text("x")
    garbage = tmp_path / "ppo_seed1"
    garbage.mkdir()
    (garbage / "ppo_seed1_results.json").write_text("{not json")
    shaped = tmp_path / "a2c_seed1"
    shaped.mkdir()
    (shaped / "a2c_seed1_results.json").write_text(json.dumps({"experiment_results": {"metadata": []}}))
    refused = [["empty"], ["nothere"], ["empty", "--out", "file.txt"], ["--sweep", "nosuch"]]
    with ThreadPoolExecutor(2) as pool:  # each command is one process on one CPU: two at once
        *results, result = pool.map(lambda args: rl_report(*args),
                                    [*refused, [garbage, shaped, "--out", tmp_path / "report"]])
    for args, refusal in zip(refused, results):
        assert refusal.returncode == 3, (args, refusal.stderr)
        assert len(problem_lines(refusal.stderr)) == 1 and "Traceback" not in refusal.stderr
    assert "no sweep named 'nosuch' in" in results[3].stderr
    assert result.returncode == 0, result.stderr
    assert "| ppo_seed1 | unreadable |" in (tmp_path / "report/report.md").read_text()
    assert "| a2c_seed1 | unreadable |" in (tmp_path / "report/report.md").read_text()


@pytest.mark.parametrize("moment, delay", [
    ("the first", 0.0), ("the first", 0.3),  # while the run saves its checkpoint
    ("shutdown", 0.0), ("shutdown", 0.3),  # after its last line, while Python shuts down
])
def test_a_second_ctrl_c_still_exits_7_with_the_files_intact(tmp_path, moment, delay):
    process = start_cli(["--algo", "ppo", "--timesteps", "200000", "--output-dir", "out"], tmp_path)
    stderr: list[str] = []
    said_interrupted = threading.Event()

    def read() -> None:
        for line in process.stderr:
            stderr.append(line)
            if "interrupted at step" in line:
                said_interrupted.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    out = tmp_path / "out"
    deadline = time.monotonic() + 120
    while not (out / "checkpoint_2000.zip").exists():
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    if moment == "shutdown":
        assert said_interrupted.wait(timeout=60), "".join(stderr)
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    process.wait(timeout=60)
    reader.join(timeout=10)
    assert process.returncode == 7, "".join(stderr)
    results = load_json(out / "ppo_seed42_results.json")["experiment_results"]
    assert results["metadata"]["status"] == "interrupted"
    step = results["metadata"]["total_timesteps"]
    assert inspect_checkpoint(out / f"checkpoint_{step}.zip", "ppo").state.step == step  # whole: its manifest holds


@pytest.mark.parametrize("tool, args, says", [
    ("train", ["--algo", "ppo", "--e", "CartPole-v1"], "ambiguous option: --e could match --env, --env-kwargs"),
    ("train", ["--algo", "ppo", "--sedd", "3"], "unrecognized arguments: --sedd 3"),
    ("sweep", ["--seed", "3"], "ambiguous option: --seed could match --seeds, --seed-start"),
    ("sweep", ["--sedes", "3"], "unrecognized arguments: --sedes 3"),
    ("report", ["--sweep", "s", "--bogus"], "unrecognized arguments: --bogus"),
])
def test_a_bad_option_exits_3_with_one_line_on_stderr(tmp_path, tool, args, says):
    result = subprocess.run(command(tool, *args), cwd=tmp_path, env=cli_env(), capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 3, result.stderr
    [line] = result.stderr.splitlines()
    assert says in line and "--help" in line
    assert result.stdout == "" and not (tmp_path / "results").exists()


@pytest.mark.parametrize("tool", ["train", "sweep", "report"])
def test_help_still_lists_every_option(tool):
    import importlib

    parser = importlib.import_module(f"rl_sweep.{'run' if tool == 'train' else tool}.cli").build_parser()
    result = subprocess.run(command(tool, "--help"), env=cli_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    for action in parser._actions:
        for option in action.option_strings:
            assert option in result.stdout, option


BAD_VARIANTS = [
    (["--variants", "ppo", "dqn"], None, "--variants dqn: unknown algorithm 'dqn'"),
    (["--variants", "ppo", "ppo@nosuch"], None, "no preset 'nosuch'"),
    (["--variants", "ppo", "ppo@missing.yaml"], None, "no file missing.yaml"),
    (["--variants", "ppo", "a2c", "ppo"], None, "variant ppo is named twice"),
    (["--variants", "ppo", "tune=a2c"], None, "'tune' cannot name a variant's folder"),
    (["--variants", "ppo", "a/b=a2c"], None, "'a/b' cannot name a variant's folder"),
    (["--variants", "a2c", "--variants-file", "v.yaml"], "mine:\n  algo: ppo\n  learning_rate: 0.1\n",
     "variant mine: unknown key learning_rate"),
    (["--variants-file", "v.yaml"], "mine:\n  algo: dqn\n", "variant mine: algo must be one of ppo, a2c"),
    (["--variants-file", "v.yaml"], "mine:\n  algo: ppo\n  config: nofile.yaml\n", "variant mine: no file"),
    (["--variants-file", "v.yaml"], "mine:\n  algo: ppo\n  n_envs: 0\n", "variant mine: n_envs must be a positive"),
    (["--variants-file", "v.yaml"], "mine:\n  algo: ppo\n  hyperparameters: {n_stepz: 8}\nbase:\n  algo: ppo\n",
     "variant mine (contract): ppo hyperparameter n_stepz is not an argument of PPO"),
    (["--algos", "ppo", "--variants", "a2c"], None, "not both"),
    (["--variants", "ppo", "a2c", "ppo@tuned", "--baseline", "dqn"], None, "--baseline dqn is not one of"),
    (["--variants", "ppo", "a2c", "--baseline", "ppo"], None, "--baseline compares each of three variants"),
    (["--variants", "ppo", "ppo@tuned", "--search", "2"], None, "--search searches one variant's space"),
    (["--variants", "a2c", "ppo=ppo@tuned"], None, "ppo names the algorithm on the sweep's preset"),
    (["--variants", "ppo", "summary.json=a2c"], None, "'summary.json' cannot name a variant's folder"),
    (["--variants", "A=ppo@tuned", "a=a2c@tuned"], None, "variant a is named twice (letter case aside)"),
    (["--variants-file", "v.yaml"], "mine:\n  algo: ppo\n  hyperparameters: {n_envs: 2}\n",
     "n_envs goes beside hyperparameters"),
]


@pytest.mark.parametrize("args, file, says", BAD_VARIANTS)
def test_a_bad_variant_is_one_line_naming_it_before_anything_starts(tmp_path, monkeypatch, args, file, says):
    from rl_sweep.errors import ConfigError
    from rl_sweep.sweep.checks import check_before_start
    from rl_sweep.sweep.cli import build_parser, options_from_args

    monkeypatch.chdir(tmp_path)
    if file:
        (tmp_path / "v.yaml").write_text(file)
    with pytest.raises(ConfigError) as raised:  # the command's exit code 3 (tests/test_exit_codes.py)
        options = options_from_args(build_parser().parse_args(args), args)
        check_before_start([run for _, run in options.sweep_runs()], None)
    assert says in str(raised.value) and "\n" not in str(raised.value)
    assert not (tmp_path / "results").exists()


# 12,862: the first --seed-start whose two tuning seeds (drawn from 1,000..999,999 by it) include a deciding seed
# (12,870, in rounds of 5 x 4 from 12,862).
BAD_TUNING = [
    (["--tune", "3", "--algos", "ppo", "a2c", "--seeds", "3"], "--tune trains each setting on --tuning-seeds seeds"),
    (["--tune", "3", "--algos", "ppo"], "--tune gives every variant the same tuning budget, then decides"),
    (["--tune", "1", "--algos", "ppo", "a2c"], "--tune must be 2 or more"),
    (["--tune", "2", "--algos", "ppo", "a2c", "--seed-start", "12862"],
     "tuning seed(s) 12870 would also decide (seeds 12862..12881)"),
    (["--tune", "2", "--variants", "ppo", "ppo@tuned", "--env", "CartPole-v1"],
     "variant ppo@tuned (tuned on CartPole-v1) has no search space"),
    (["--tune", "2", "--variants", "ppo@tuned", "a2c@tuned"],
     "--tune gives every variant the same steps per run, but on LunarLander-v3 their presets give ppo@tuned 600,000, "
     "a2c@tuned 1,000,000: give --timesteps"),
    (["--tune", "2", "--search", "2", "--algos", "ppo", "a2c"], "not both"),
    (["--tuning-seeds", "3", "--algos", "ppo", "a2c"], "--tuning-seeds is the seeds of each setting of --tune"),
    (["--tune", "3", "--algos", "ppo", "a2c", "--config", "small.yaml"],
     "variant ppo's search space holds only 2 distinct setting(s), fewer than --tune 3"),
]
SMALL_SPACE = """\
ppo:
  timesteps: 1000
  search: {learning_rate: [0.001, 0.002]}
a2c:
  timesteps: 1000
  search: {learning_rate: [0.001, 0.002, 0.003]}
"""


@pytest.mark.parametrize("args, says", BAD_TUNING)
def test_a_fight_that_would_not_be_fair_is_refused_in_one_line_before_anything_starts(tmp_path, monkeypatch, args,
                                                                                      says):
    from rl_sweep.errors import ConfigError
    from rl_sweep.sweep.cli import build_parser, options_from_args
    from rl_sweep.sweep.tuning import tuning_plan

    monkeypatch.chdir(tmp_path)
    (tmp_path / "small.yaml").write_text(SMALL_SPACE)
    with pytest.raises(ConfigError) as raised:  # the command's exit code 3
        tuning_plan(options_from_args(build_parser().parse_args(args), args))
    assert says in str(raised.value) and "\n" not in str(raised.value)
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("args, file, says", [BAD_VARIANTS[0], BAD_VARIANTS[10], (*BAD_TUNING[4][:1], None,
                                                                                  BAD_TUNING[4][1])])
def test_the_command_exits_3_with_that_line(tmp_path, args, file, says):
    if file:
        (tmp_path / "v.yaml").write_text(file)
    result = subprocess.run(command("sweep", *args, "--no-dashboard"), cwd=tmp_path, env=cli_env(),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 3, result.stderr
    [line] = problem_lines(result.stderr)
    assert says in line
    assert not (tmp_path / "results").exists()
