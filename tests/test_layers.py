"""The package's three layers: one run, many runs on Ray, the report; no import circle."""

import ast
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
