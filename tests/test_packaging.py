"""A non-editable install ships the presets: --preset contract and --preset tuned work without a checkout."""

import ast
import shutil
import subprocess
import sys

from conftest import REPO


def test_an_installed_package_carries_its_presets(tmp_path):
    wheel_dir, target, source = tmp_path / "wheel", tmp_path / "site", tmp_path / "source"
    # The wheel is built from a copy of the tracked files: a build writes build/ beside its sources.
    files = subprocess.run(["git", "ls-files"], cwd=REPO, check=True, capture_output=True, text=True).stdout.split()
    for name in files:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(wheel_dir), str(source)], check=True, capture_output=True, timeout=300)
    [wheel] = wheel_dir.glob("rl_sweep-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                    str(wheel)], check=True, capture_output=True, timeout=300)
    code = ("import pkgutil, rl_sweep, rl_sweep.presets as p; print(rl_sweep.__file__); print(p.CONFIGS_DIR); "
            "print(p.available_presets()); print(p.load_settings('tuned', 'ppo').timesteps); "
            "print(sorted(m.name for m in pkgutil.walk_packages(rl_sweep.__path__, 'rl_sweep.')))")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(target)},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    package, configs, presets, timesteps, modules = result.stdout.splitlines()
    assert package.startswith(str(target)) and configs.startswith(str(target))
    assert presets == "['contract', 'tuned']" and int(timesteps) > 0
    # Every module of the source tree is in the wheel (a package missing from pyproject.toml's list is not).
    source_modules = sorted(".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
                            for path in (REPO / "rl_sweep").rglob("*.py"))
    assert set(source_modules) <= set(ast.literal_eval(modules)) | {"rl_sweep"}, set(source_modules) - set(ast.literal_eval(modules))
