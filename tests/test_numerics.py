"""Pinned numerics: the same seed gives bitwise the same run on any x86-64 CPU with AVX2, checked on this one
as if on several, through the libraries' own switches (MKL's instruction sets, ATen's kernel dispatch,
NumPy's SIMD features), and against the golden fingerprint on whichever real CPU runs the suite."""

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import REPO, assert_identical, cli_env, load_json, run_cli
from rl_sweep.numerics import cpu

# What this machine computes like when it is an AVX2-only CPU (no AVX-512), as far as each library goes.
AS_IF_AVX2 = {"MKL_ENABLE_INSTRUCTIONS": "AVX2", "ATEN_CPU_CAPABILITY": "avx2",
              "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR"}

PRESET = """\
ppo:
  timesteps: 1536
  n_envs: 2
  normalize: {normalize}
  hyperparameters: {{n_steps: 256, batch_size: 64, n_epochs: 2}}
a2c:
  timesteps: 1000
  n_envs: 2
  normalize: {normalize}
  hyperparameters: {{n_steps: 5}}
"""


def run(tmp_path, algo: str, folder: str, env: dict[str, str], *extra: str):
    result = run_cli(["--algo", algo, "--config", "preset.yaml", "--checkpoint-interval", "500", "--eval-episodes", "2",
                      "--output-dir", folder, *extra], tmp_path, **env)
    assert result.returncode == 0, result.stderr
    return tmp_path / folder


def side_by_side(*calls):
    """The calls (a function and its arguments each) at once, their results in order: pinned runs are one thread
    each, so two of them share 2 CPUs without slowing each other, and what they compute does not change."""
    with ThreadPoolExecutor(len(calls)) as pool:
        return [future.result() for future in [pool.submit(*call) for call in calls]]


@pytest.fixture(scope="module")
def cpu_tells_the_paths_apart(tmp_path_factory) -> bool:
    """Whether this CPU computes differently on MKL's AVX2 path when nothing is pinned: on an AVX2-only CPU, or
    one where MKL takes that path anyway (AMD's, often), the two runs are the same and pinning cannot be seen
    to matter here."""
    tmp_path = tmp_path_factory.mktemp("control")
    (tmp_path / "preset.yaml").write_text(PRESET.format(normalize="true"))
    native = run(tmp_path, "ppo", "native", {}, "--fast-numerics")
    as_avx2 = run(tmp_path, "ppo", "avx2", AS_IF_AVX2, "--fast-numerics")
    try:
        assert_identical(native, as_avx2, "ppo_seed42", [1536])
    except AssertionError:
        return True
    return False


@pytest.mark.parametrize("algo", ["ppo", "a2c"])
@pytest.mark.parametrize("normalize", [False, True])
def test_a_run_is_bitwise_the_same_on_an_avx2_cpu_as_on_this_one(tmp_path, algo, normalize,
                                                                  cpu_tells_the_paths_apart):
    if not cpu_tells_the_paths_apart:
        pytest.skip("this CPU computes the same on MKL's AVX2 path unpinned: it cannot show what pinning does")
    (tmp_path / "preset.yaml").write_text(PRESET.format(normalize=str(normalize).lower()))
    native, as_avx2 = side_by_side((run, tmp_path, algo, "native", {}), (run, tmp_path, algo, "avx2", AS_IF_AVX2))
    total = 1536 if algo == "ppo" else 1000
    assert_identical(native, as_avx2, f"{algo}_seed42", [500, total])
    numerics = load_json(native / f"{algo}_seed42_results.json")["experiment_results"]["metadata"]["numerics"]
    assert numerics["mkl_cbwr"] == "AVX2" and numerics["torch_threads"] == 1
    assert numerics["cpu"] and "avx2" in numerics["instruction_sets"]


def test_a_sweep_trial_on_an_avx2_cpu_matches_rl_train_on_this_one(tmp_path):
    (tmp_path / "preset.yaml").write_text(PRESET.format(normalize="false"))
    sweep_command = [sys.executable, "-m", "rl_sweep.sweep", "--algos", "a2c", "--seeds", "1", "--config", "preset.yaml",
                     "--checkpoint-interval", "500", "--eval-episodes", "2", "--name", "avx2", "--no-dashboard"]
    native, sweep = side_by_side((run, tmp_path, "a2c", "native", {}),
                                 (lambda: subprocess.run(sweep_command, cwd=tmp_path, env=cli_env(**AS_IF_AVX2),
                                                         capture_output=True, text=True, timeout=300),))
    assert sweep.returncode == 0, sweep.stdout + sweep.stderr
    assert_identical(native, tmp_path / "results/sweeps/avx2/a2c_seed42", "a2c_seed42", [500, 1000])
    numerics = load_json(native / "a2c_seed42_results.json")["experiment_results"]["metadata"]["numerics"]
    assert numerics["mkl_cbwr"] == "AVX2" and numerics["torch_threads"] == 1
    assert numerics["cpu"] and "avx2" in numerics["instruction_sets"]


def test_this_cpu_computes_the_golden_fingerprint(tmp_path):
    """benchmarks/fingerprint.py --check: the contract's PPO and A2C, 4,096 steps each side by side, give the
    golden file's policy and optimizer bits and evaluation returns (a CPU the pinning does not hold on fails)."""
    result = subprocess.run([sys.executable, str(REPO / "benchmarks/fingerprint.py"), "--check"], cwd=tmp_path,
                            env=cli_env(), capture_output=True, text=True, timeout=300)
    this_cpu = cpu()
    assert result.returncode == 0, (
        f"this CPU, {this_cpu['cpu']} ({this_cpu['vendor']}), does not compute the golden fingerprint of "
        f"benchmarks/fingerprint_golden.json; each CPU model's is in docs/numerics.md:\n{result.stderr}")


def test_on_a_cpu_not_intels_mkl_honours_the_pinning_only_through_its_answered_vendor_check(tmp_path):
    """What differed between an Intel Xeon and an AMD EPYC (issue 33): MKL takes the MKL_CBWR path on Intel's CPUs
    only. With its vendor check left alone (RL_SWEEP_MKL_VENDOR_CHECK=off), a CPU not Intel's computes other bits
    than the golden file's; answered (the default), the golden bits (the test above). On an Intel CPU the check
    already says Intel, and there is nothing to show."""
    if cpu()["vendor"] == "GenuineIntel":
        pytest.skip("an Intel CPU: MKL's vendor check already answers yes")
    result = subprocess.run([sys.executable, str(REPO / "benchmarks/fingerprint.py"), "--check"], cwd=tmp_path,
                            env=cli_env(RL_SWEEP_MKL_VENDOR_CHECK="off"), capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and "policy_sha256" in result.stderr, result.stdout + result.stderr


def test_fast_numerics_says_results_depend_on_the_cpu_and_records_no_pinning(tmp_path):
    (tmp_path / "preset.yaml").write_text(PRESET.format(normalize="false"))
    result = run_cli(["--algo", "a2c", "--config", "preset.yaml", "--eval-episodes", "1", "--fast-numerics",
                      "--output-dir", "fast"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "depend on the CPU" in result.stderr
    numerics = load_json(tmp_path / "fast/a2c_seed42_results.json")["experiment_results"]["metadata"]["numerics"]
    assert numerics["mkl_cbwr"] is None


def test_a_resume_under_other_numerics_goes_on_with_a_warning(tmp_path):
    (tmp_path / "preset.yaml").write_text(PRESET.format(normalize="false"))
    run(tmp_path, "a2c", "out", {})
    result = run_cli(["--algo", "a2c", "--config", "preset.yaml", "--eval-episodes", "1", "--fast-numerics",
                      "--output-dir", "out", "--resume-from", "out/checkpoint_500.zip"], tmp_path)
    assert result.returncode == 1, result.stderr
    warnings = load_json(tmp_path / "out/a2c_seed42_results.json")["experiment_results"]["metadata"]["warnings"]
    assert any("numerics" in w for w in warnings)


def test_a_value_the_user_set_for_mkl_stays(tmp_path):
    (tmp_path / "preset.yaml").write_text(PRESET.format(normalize="false"))
    folder = run(tmp_path, "a2c", "mine", {"MKL_CBWR": "COMPATIBLE"})
    numerics = load_json(folder / "a2c_seed42_results.json")["experiment_results"]["metadata"]["numerics"]
    assert numerics["mkl_cbwr"] == "COMPATIBLE"
