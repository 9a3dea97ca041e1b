"""The package's three layers: one run, many runs on Ray, the report; no import circle; the contract's file names
spelled in rl_sweep/files/ alone; no module over 400 lines."""

import ast
import re
import subprocess
import sys
from pathlib import Path

from conftest import REPO, cli_env

PACKAGE = REPO / "rl_sweep"


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at its top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


MODULES = {module_name(path): imports(path) for path in PACKAGE.rglob("*.py")}


def test_running_one_run_imports_neither_ray_nor_the_report_libraries():
    code = ("import sys, rl_sweep.run.cli, rl_sweep.run.engine, rl_sweep.train; "
            "print(sorted(m for m in ('ray', 'rliable', 'matplotlib') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], env=cli_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_only_the_sweep_layer_imports_ray_and_only_the_report_layer_rliable_and_matplotlib():
    for module, imported in MODULES.items():
        roots = {name.split(".")[0] for name in imported}
        if "ray" in roots:
            assert module.startswith("rl_sweep.sweep."), module
        if roots & {"rliable", "matplotlib"}:
            assert module.startswith("rl_sweep.report."), module


def test_no_module_of_the_package_imports_in_a_circle():
    graph = {module: {name for name in imported if name in MODULES and name != module}
             for module, imported in MODULES.items()}

    def visit(module: str, path: list[str]) -> None:
        for target in graph[module]:
            assert target not in path, " -> ".join([*path, target])
            visit(target, [*path, target])

    for module in graph:
        visit(module, [module])


# A contract file's name as code spells it: a run's results, metrics and model files, and a checkpoint's name
# (checkpoint_{step}, checkpoint_*, checkpoint_(\d+), checkpoint_1000, "checkpoint_"), not checkpoint_interval and
# the like.
CONTRACT_FILE_NAME = re.compile(r"""_results\.json|_metrics\.json|_model\.zip|checkpoint_(\{|\*|\(|\d|"|')""")
FILES = PACKAGE / "files"  # rl_sweep.files: the home of every file name the layers hand each other


def test_only_the_files_home_spells_a_contract_file_name():
    spelled = [f"{module_name(path)}:{number}"
               for path in sorted(PACKAGE.rglob("*.py")) if FILES not in path.parents
               for number, line in enumerate(path.read_text().splitlines(), 1) if CONTRACT_FILE_NAME.search(line)]
    assert not spelled, "a contract file's name spelled outside rl_sweep/files/: " + ", ".join(spelled)


MAX_LINES = 400


def test_no_module_passes_400_lines():
    long = [f"{module_name(path)} ({lines} lines)" for path in sorted(PACKAGE.rglob("*.py"))
            if (lines := len(path.read_text().splitlines())) > MAX_LINES]
    assert not long, f"over {MAX_LINES} lines: " + ", ".join(long)
