"""Checkpoints that cannot run code: loading never unpickles, and a manifest detects damage and tampering
(real CLI subprocesses on checkpoints of a real run, rewritten as an attacker or a bad disk would)."""

import base64
import hashlib
import json
import zipfile
from pathlib import Path

import cloudpickle
import pytest
from stable_baselines3 import A2C

from conftest import run_cli


class WritesAMarker:
    """Unpickling this creates a file: the proof that code from a checkpoint ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (self.marker,)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    cwd = tmp_path_factory.mktemp("safe")
    result = run_cli(["--algo", "a2c", "--timesteps", "200", "--checkpoint-interval", "100", "--eval-episodes", "1",
                      "--output-dir", "run"], cwd)
    assert result.returncode == 0, result.stderr
    return cwd / "run"


def rewrite(source: Path, target: Path, change, manifest: str = "recompute") -> Path:
    """A copy of ``source`` with its entries passed through ``change``; its manifest recomputed (an attacker's
    rewrite), kept as it was (damage), or dropped (a zip from before manifests)."""
    with zipfile.ZipFile(source) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    old = entries.pop("manifest.json")
    change(entries)
    if manifest == "recompute":
        document = json.loads(old)
        document["sha256"] = {name: hashlib.sha256(data).hexdigest() for name, data in entries.items()}
        entries["manifest.json"] = json.dumps(document).encode()
    elif manifest == "keep":
        entries["manifest.json"] = old
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return target


def with_pickled(key: str, marker: Path):
    def change(entries):
        data = json.loads(entries["data"])
        data[key] = {":type:": "<class 'WritesAMarker'>",
                     ":serialized:": base64.b64encode(cloudpickle.dumps(WritesAMarker(marker))).decode()}
        entries["data"] = json.dumps(data).encode()
    return change


def resume(cwd: Path, checkpoint: Path):
    return run_cli(["--algo", "a2c", "--timesteps", "300", "--checkpoint-interval", "100", "--eval-episodes", "1",
                    "--output-dir", f"out_{checkpoint.stem}", "--resume-from", str(checkpoint)], cwd)


def test_the_payload_runs_when_unpickled(tmp_path):
    """The control: the payload below does write its marker when something unpickles it."""
    marker = tmp_path / "unpickled"
    cloudpickle.loads(cloudpickle.dumps(WritesAMarker(marker)))
    assert marker.exists()


def test_a_checkpoint_whose_data_carries_code_runs_none_of_it(run, tmp_path):
    marker = tmp_path / "code_ran"
    # In place of an attribute SB3 pickles: rebuilt from the run's own settings, the file's never read.
    replaced = rewrite(run / "checkpoint_100.zip", tmp_path / "replaced.zip", with_pickled("policy_class", marker))
    result = resume(tmp_path, replaced)
    assert result.returncode == 1, result.stderr  # its only warning: a new folder, so its series starts at 100
    assert "time series starts at step 100" in result.stderr and "manifest" not in result.stderr
    assert not marker.exists()
    # A pickled entry no run has: refused, naming it.
    extra = rewrite(run / "checkpoint_100.zip", tmp_path / "extra.zip", with_pickled("payload", marker))
    result = resume(tmp_path, extra)
    assert result.returncode == 6, result.stderr
    assert "'payload'" in result.stderr and "Traceback" not in result.stderr
    assert not marker.exists()


def test_a_changed_byte_of_the_weights_is_refused(run, tmp_path):
    def flip(entries):
        weights = bytearray(entries["policy.pth"])
        weights[len(weights) // 2] ^= 0xFF
        entries["policy.pth"] = bytes(weights)

    damaged = rewrite(run / "checkpoint_100.zip", tmp_path / "damaged.zip", flip, manifest="keep")
    result = resume(tmp_path, damaged)
    assert result.returncode == 6, result.stderr
    assert "policy.pth does not match the SHA-256 in its manifest" in result.stderr


def test_a_checkpoint_without_a_manifest_still_resumes_with_a_warning(run, tmp_path):
    older = rewrite(run / "checkpoint_100.zip", tmp_path / "older.zip", lambda entries: None, manifest="drop")
    result = resume(tmp_path, older)
    assert result.returncode == 1, result.stderr
    assert "has no integrity manifest" in result.stderr


def test_plain_sb3_still_reads_our_checkpoints(run):
    assert A2C.load(run / "checkpoint_200.zip").num_timesteps == 200
    assert "manifest.json" in zipfile.ZipFile(run / "checkpoint_200.zip").namelist()
