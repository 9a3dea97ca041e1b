"""rl-sweep on a real multi-node Ray cluster with S3-compatible storage, on one machine.

A head node with no CPUs and two worker nodes of one CPU each, every node in its own mount namespace;
on the worker nodes a tmpfs hides the test's folder and the checkout's package and presets, so that,
like separate machines, they see neither the driver's files nor the code but what Ray ships them.
Storage is moto's S3-compatible server. Midway, every process of one worker node is killed.
Only the processes this module started are stopped, by PID.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import REPO, cli_env, contract_tree

BIN = Path(sys.executable).parent
BUCKET = "rl-sweep"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def wait_for_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on port {port}")


def namespace_pids(pid: int) -> list[int]:
    """Every process in the mount namespace of ``pid``: one node of the cluster."""
    try:
        namespace = os.readlink(f"/proc/{pid}/ns/mnt")
    except FileNotFoundError:
        return []
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "ns/mnt") == namespace:
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def kill_node(pid: int) -> None:
    for member in namespace_pids(pid):
        try:
            os.kill(member, signal.SIGKILL)
        except ProcessLookupError:
            pass


class Cluster:
    """moto's S3 server, and a Ray head and two worker nodes, each node a `ray start --block` in its own
    mount namespace."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.nodes: list[subprocess.Popen] = []
        self.moto: subprocess.Popen | None = None
        self.env = cli_env(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32),
                           # a dead node is noticed within seconds
                           RAY_health_check_period_ms="1000", RAY_health_check_failure_threshold="3",
                           **CREDENTIALS)

    def start(self) -> None:
        s3_port, head_port, client_port = free_ports(3)
        self.moto = subprocess.Popen([BIN / "moto_server", "-H", "127.0.0.1", "-p", str(s3_port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(s3_port)
        import boto3

        boto3.client("s3", endpoint_url=f"http://127.0.0.1:{s3_port}", **{
            "aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1",
        }).create_bucket(Bucket=BUCKET)
        self.s3_port = s3_port
        self.address = f"127.0.0.1:{head_port}"
        self._node(["--head", "--port", str(head_port), "--num-cpus", "0", "--include-dashboard=false",
                    "--ray-client-server-port", str(client_port)], hide=[])
        wait_for_port(head_port)
        for _ in range(2):
            self._node(["--address", self.address, "--num-cpus", "1"],
                       hide=[self.root, REPO / "rl_sweep", REPO / "configs", REPO / "tests" / "envs"])
        self.wait_for_cpus(2)

    def _node(self, args: list[str], hide: list[Path]) -> None:
        node_manager, object_manager, agent, agent_grpc, runtime_env, metrics = free_ports(6)
        temp_dir = self.root / f"ray{len(self.nodes)}"
        command = [str(BIN / "ray"), "start", "--block", "--temp-dir", str(temp_dir), "--node-ip-address", "127.0.0.1",
                   "--node-manager-port", str(node_manager), "--object-manager-port", str(object_manager),
                   "--dashboard-agent-listen-port", str(agent), "--dashboard-agent-grpc-port", str(agent_grpc),
                   "--runtime-env-agent-port", str(runtime_env), "--metrics-export-port", str(metrics), *args]
        mounts = "".join(f"mount -t tmpfs tmpfs '{path}' && " for path in hide)
        script = f"{mounts}exec {' '.join(command)}"
        self.nodes.append(subprocess.Popen(["unshare", "-m", "bash", "-c", script], env=self.env,
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def wait_for_cpus(self, cpus: int, timeout: float = 120) -> None:
        code = ("import ray; ray.init(address='%s', logging_level='ERROR'); "
                "print(int(ray.cluster_resources().get('CPU', 0)))" % self.address)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = subprocess.run([sys.executable, "-c", code], env=self.env, capture_output=True, text=True,
                                    timeout=60)
            if result.stdout.strip() == str(cpus):
                return
            time.sleep(1)
        raise TimeoutError(f"the cluster never had {cpus} CPUs")

    def uri(self, prefix: str) -> str:
        return f"s3://{BUCKET}/{prefix}?scheme=http&endpoint_override=127.0.0.1:{self.s3_port}"

    def s3(self):
        import boto3

        return boto3.client("s3", endpoint_url=f"http://127.0.0.1:{self.s3_port}", aws_access_key_id="testing",
                            aws_secret_access_key="testing", region_name="us-east-1")

    def keys(self, prefix: str) -> list[str]:
        pages = self.s3().get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def read_json(self, key: str):
        return json.loads(self.s3().get_object(Bucket=BUCKET, Key=key)["Body"].read())

    def multipart(self, key: str) -> bool:
        """Whether the object went up as a multipart upload (3 requests), not one PUT: its ETag ends in -{parts}."""
        return "-" in self.s3().head_object(Bucket=BUCKET, Key=key)["ETag"]

    def stop(self) -> None:
        for node in self.nodes:
            kill_node(node.pid)
            node.wait(timeout=30)
        if self.moto is not None:
            self.moto.kill()
            self.moto.wait(timeout=30)


def drive(cluster: Cluster, command: list[str], cwd: Path, prefix: str, reached: Callable[[str], bool], what: str,
          then: Callable[[subprocess.Popen], object], timeout: float) -> tuple[int, str]:
    """``command`` run as a driver until a key under ``prefix`` in storage is ``reached``, then ``then`` done to it
    (a node killed, a signal sent) and its end awaited: its exit code and output."""
    driver = subprocess.Popen(command, cwd=cwd, env=cluster.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    try:
        deadline = time.monotonic() + 240
        while not any(reached(key) for key in cluster.keys(prefix)):
            assert driver.poll() is None, driver.stdout.read()
            assert time.monotonic() < deadline, f"no {what}"
            time.sleep(0.5)
        then(driver)
        output = driver.communicate(timeout=timeout)[0]
    finally:
        if driver.poll() is None:
            driver.kill()
    return driver.returncode, output


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0:
        pytest.skip("needs mount namespaces (unshare -m, as root) to give each node a view of its own")
    cluster = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def test_sweep_on_a_cluster_with_s3_storage_survives_a_dead_node(cluster):
    work = cluster.root / "driver"
    work.mkdir()
    results = cluster.uri("team")
    command = [str(BIN / "rl-sweep"), "--address", cluster.address, "--results-dir", results, "--algos", "ppo", "a2c",
               "--seeds", "1", "--timesteps", "12000", "--checkpoint-interval", "1000", "--eval-episodes", "2",
               "--name", "c1"]
    # Once a trial has its third checkpoint in storage, one worker node dies: every process on it.
    code, output = drive(cluster, command, work, "team/sweeps/c1/", lambda key: key.endswith("/checkpoint_3000.zip"),
                         "trial reached step 3000", lambda driver: kill_node(cluster.nodes[1].pid), timeout=400)
    assert code == 0, output

    keys = cluster.keys("team/sweeps/c1/")
    tune_files = [key for key in keys if key.startswith("team/sweeps/c1/tune/") and not key.endswith("/")]
    # Tune's own files go up in one PUT each, as the trials' do.
    assert tune_files and not [key for key in tune_files if cluster.multipart(key)]
    for trial in ("ppo_seed42", "a2c_seed42"):
        prefix = f"team/sweeps/c1/{trial}/"
        # (pyarrow marks a folder whose files it moved with an empty object named after it: the key {prefix})
        names = {key[len(prefix):].split("/")[0] for key in keys if key.startswith(prefix) and key != prefix}
        assert names == contract_tree(trial, list(range(1000, 12001, 1000)))
        results_json = cluster.read_json(f"{prefix}{trial}_results.json")["experiment_results"]
        assert results_json["metadata"]["status"] == "completed"
        assert results_json["model"]["model_path"] == cluster.uri(f"team/sweeps/c1/{trial}/")  # not a node's staging
        series = cluster.read_json(f"{prefix}{trial}_metrics.json")["training_metrics"]["time_series"]
        assert [entry["timestep"] for entry in series] == list(range(100, 12001, 100))  # no gap, no duplicate
    restored = [trial for trial in ("ppo_seed42", "a2c_seed42") if cluster.read_json(
        f"team/sweeps/c1/{trial}/{trial}_results.json")["experiment_results"]["metadata"]["resumed_from"]]
    assert restored, "the dead node's trial was not restored from its checkpoint"
    for name in ("sweep.json", "summary.json", "report.md", "report.html", "learning_curves.png",
                 "final_performance.png", "replays/ppo_seed42.mp4", "replays/a2c_seed42.mp4"):
        assert f"team/sweeps/c1/{name}" in keys  # the replays: from models fetched from storage, uploaded beside
    summary = cluster.read_json("team/sweeps/c1/summary.json")
    assert {t["trial"]: t["status"] for t in summary["trials"]} == {"ppo_seed42": "completed",
                                                                    "a2c_seed42": "completed"}

    # The report again, from storage, by a user on the driver's machine.
    report = subprocess.run([str(BIN / "rl-report"), "--sweep", "c1", "--results-dir", results, "--no-replays"],
                            cwd=work, env=cluster.env, capture_output=True, text=True, timeout=300)
    assert report.returncode == 0, report.stderr
    assert cluster.read_json("team/sweeps/c1/summary.json")["report"]["algorithms"]["ppo"]["seeds_completed"] == 1
    assert not any(work.iterdir())  # nothing was written beside the driver


def test_a_users_environment_reaches_the_workers_with_py_modules(cluster):
    """The workers cannot see tests/envs: the user's package reaches them through Ray's runtime_env, or not
    at all."""
    from conftest import CORRIDOR, USER_ENVS

    work = cluster.root / "driver_user_env"
    work.mkdir()
    env = {**cluster.env, "PYTHONPATH": f"{cluster.env['PYTHONPATH']}:{USER_ENVS}"}  # the driver has it installed
    results = cluster.uri("team")

    def sweep(name: str, *extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN / "rl-sweep"), "--address", cluster.address, "--results-dir", results,
                               "--algos", "a2c", "--seeds", "1", "--env", CORRIDOR, "--timesteps", "300",
                               "--checkpoint-interval", "100", "--eval-episodes", "1", "--max-failures", "0",
                               "--name", name, *extra],
                              cwd=work, env=env, capture_output=True, text=True, timeout=300)

    without = sweep("u1")
    assert without.returncode == 2, without.stdout + without.stderr
    assert "rl_sweep_test_envs" in cluster.read_json("team/sweeps/u1/summary.json")["trials"][0]["error"]
    shipped = sweep("u2", "--py-modules", str(Path(USER_ENVS) / "rl_sweep_test_envs"))
    assert shipped.returncode == 0, shipped.stdout + shipped.stderr
    [trial] = cluster.read_json("team/sweeps/u2/summary.json")["trials"]
    assert trial["status"] == "completed" and trial["env"] == CORRIDOR


def test_two_sweeps_started_at_once_with_one_name_on_s3_one_runs_and_the_other_exits_3(cluster):
    work = cluster.root / "driver_same_name"
    work.mkdir()
    command = [str(BIN / "rl-sweep"), "--address", cluster.address, "--results-dir", cluster.uri("team"),
               "--algos", "a2c", "--seeds", "1", "--timesteps", "200", "--eval-episodes", "1", "--name", "same"]
    both = [subprocess.Popen(command, cwd=work, env=cluster.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(2)]
    outputs = [process.communicate(timeout=300) for process in both]
    assert sorted(process.returncode for process in both) == [0, 3], outputs
    [refused] = [err for process, (_, err) in zip(both, outputs) if process.returncode == 3]
    assert "a sweep named 'same'" in refused
    assert cluster.read_json("team/sweeps/same/summary.json")["status"] == "completed"


def test_a_fair_fight_on_a_cluster_with_s3_storage_interrupted_while_tuning_resumes_to_a_decision(cluster):
    """rl-sweep --tune with --address and an S3 results folder: Ctrl-C while tuning, then --resume, as a user would;
    both phases' files in storage, the decision the adastop package's."""
    from conftest import TUNING_PRESET, recomputed

    work = cluster.root / "driver_fair_fight"
    work.mkdir()
    preset = cluster.root / "fight.yaml"  # the driver's file; the workers never see it
    preset.write_text(TUNING_PRESET)
    where = ["--address", cluster.address, "--results-dir", cluster.uri("team")]
    command = [str(BIN / "rl-sweep"), *where, "--config", str(preset), "--algos", "ppo", "a2c", "--env", "CartPole-v1",
               "--tune", "3", "--tuning-seeds", "2", "--seeds-per-round", "3", "--max-rounds", "2",
               "--eval-episodes", "2", "--no-replays", "--name", "f1"]
    code, output = drive(cluster, command, work, "team/sweeps/f1/",
                         lambda key: "/tuning/" in key and key.endswith("/checkpoint_500.zip"),
                         "tuning trial reached step 500", lambda driver: driver.send_signal(signal.SIGINT), timeout=120)
    assert code == 7, output
    stopped = cluster.read_json("team/sweeps/f1/summary.json")
    assert stopped["status"] == stopped["tuning"]["status"] == "interrupted" and not stopped["trials"]

    resumed = subprocess.run([str(BIN / "rl-sweep"), "--resume", "f1", *where], cwd=work, env=cluster.env,
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "Tuning ppo: 3 settings x 2 seed(s) x 1,000 steps (resumed)" in resumed.stdout  # Tune's state, restored
    summary = cluster.read_json("team/sweeps/f1/summary.json")
    tuning = summary["tuning"]
    assert tuning["status"] == "completed" and tuning == cluster.read_json("team/sweeps/f1/tuning.json")
    keys = cluster.keys("team/sweeps/f1/")
    for entry in tuning["variants"]:
        assert sorted((t["setting"], t["status"]) for t in entry["trials"]) == \
            [(k, "completed") for k in range(3) for _ in range(2)]
        assert f"team/sweeps/f1/tuning/{entry['variant']}/best.yaml" in keys
    deciding = {t["seed"] for t in summary["trials"]}
    assert deciding and deciding.isdisjoint(tuning["seeds"]) and min(deciding) == 42
    assert {"team/sweeps/f1/report.md", "team/sweeps/f1/sensitivity.png", "team/sweeps/f1/comparison.json"} <= set(keys)
    again = recomputed(summary)
    assert again["decisions"] == {(c["first"], c["second"]): c["decision"] for c in summary["decision"]["comparisons"]}
    assert not any(work.iterdir())  # nothing was written beside the driver


def s3_storage(cluster, monkeypatch, prefix: str):
    """The ``Storage`` of ``prefix`` in the cluster's S3, its credentials set for this test."""
    from rl_sweep.storage import Storage

    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    return Storage(cluster.uri(prefix))


def trial_config(storage, algo: str, seed: int, timesteps: int, folder: str) -> dict:
    """A ``RunTrainable``'s config as a sweep gives it: a small CartPole-v1 run, its files in ``folder`` of
    ``storage``."""
    return {"run": {"algo": algo, "seed": seed, "env_name": "CartPole-v1", "total_timesteps": timesteps,
                    "checkpoint_interval": 100, "eval_episodes": 1, "output_dir": "unused", "folder": folder},
            "storage": storage.location}


def test_a_trial_on_s3_set_aside_in_storage_as_on_a_local_disk(cluster, monkeypatch):
    """A resumed trial's abandoned future, and a trial restarted from scratch: storage keeps under the run's
    names only what the run has, and moves the rest whole to an earlier_{time}_{folder} sibling."""
    import rl_sweep

    storage = s3_storage(cluster, monkeypatch, "aside")
    config = trial_config(storage, "a2c", 5, 600, "sweeps/x/a2c_seed5")

    def stored() -> tuple[list[str], list[str]]:
        files = storage.files("sweeps/x")
        return ([f for f in files if f.startswith("a2c_seed5/checkpoint_")],
                sorted({f.split("/")[0] for f in files if f.startswith("earlier_")}))

    first = rl_sweep.RunTrainable(config=config)
    for _ in range(3):
        first.train()
    at_300 = first.save()
    first.train(), first.train()
    first.stop()
    assert stored() == ([f"a2c_seed5/checkpoint_{n}.zip" for n in range(100, 501, 100)], [])

    resumed = rl_sweep.RunTrainable(config=config)
    resumed.restore(at_300)  # back to step 300: checkpoints 400 and 500 are an abandoned future
    checkpoints, [aside] = stored()
    assert checkpoints == [f"a2c_seed5/checkpoint_{n}.zip" for n in (100, 200, 300)]
    assert storage.files("sweeps/x", aside) == ["checkpoint_400.zip", "checkpoint_500.zip"]
    resumed.stop()

    restarted = rl_sweep.RunTrainable(config=config)  # as Tune restarts a trial from scratch
    restarted.train()
    restarted.stop()
    checkpoints, asides = stored()
    assert checkpoints == ["a2c_seed5/checkpoint_100.zip"] and len(asides) == 2
    run_files = [f for f in storage.files("sweeps/x") if f.startswith("a2c_seed5/")]
    assert len([f for f in run_files if f.startswith("a2c_seed5/logs/training_")]) == 1  # no stale logs
    [earlier] = [a for a in asides if a != aside]
    assert "checkpoint_300.zip" in storage.files("sweeps/x", earlier)


def test_a_trial_on_s3_bookmarks_in_tune_now_and_then_and_names_only_zips_in_storage(cluster, monkeypatch):
    """On remote storage a step's files go up while the next step trains, and the trial asks Tune for a
    checkpoint (a name of its zip) at its first and last step and at most every BOOKMARK_PERIOD seconds between:
    when Tune saves one, the zip it names is in storage."""
    import rl_sweep
    from rl_sweep.sweep.trainable import BOOKMARK_PERIOD, IN_STORAGE

    storage = s3_storage(cluster, monkeypatch, "marks")
    trial = rl_sweep.RunTrainable(config=trial_config(storage, "ppo", 3, 500, "sweeps/y/ppo_seed3"))
    asked = []
    while True:
        result = trial.train()
        asked.append(result.get("should_checkpoint", False))
        if result.get("should_checkpoint"):
            bookmark = Path(trial.save().checkpoint.path)
            [named] = [path.name.removesuffix(IN_STORAGE) for path in bookmark.glob(f"*{IN_STORAGE}")]
            assert f"checkpoint_{result['timesteps_total']}.zip" == named
            assert storage.exists("sweeps/y/ppo_seed3", named)
        if result.get("done"):
            break
    trial.stop()
    assert result["time_total_s"] < BOOKMARK_PERIOD  # so that only the first and the last step ask
    assert asked == [True, False, False, False, True]


def test_storage_writes_each_small_file_in_one_request_and_still_fails_where_it_cannot_land(cluster, monkeypatch):
    """A run's files go to S3 as single PUTs, not multipart uploads (3 requests each: pyarrow's default). A write
    to a bucket that does not exist still fails, at the write (pyarrow's open is delayed to the close)."""
    from rl_sweep.storage import Storage

    storage = s3_storage(cluster, monkeypatch, "whole")
    storage.write_bytes(b"0123456789" * 10_000, "a", "results.json")
    storage.upload(Path(__file__), "a", "copied.py")
    for key in ("whole/a/results.json", "whole/a/copied.py"):
        assert not cluster.multipart(key), key
    assert storage.read_text("a", "results.json") == "0123456789" * 10_000
    with pytest.raises(OSError, match="no-such-bucket"):
        Storage(cluster.uri("x").replace(BUCKET, "no-such-bucket")).write_bytes(b"{}", "b.json")
