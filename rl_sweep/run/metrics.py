"""Training metrics: episode statistics, the time series, and the metrics JSON and CSV files."""

from __future__ import annotations

import csv
import json
import math
from collections import deque
from contextlib import suppress
from operator import itemgetter
from pathlib import Path
from typing import IO, Any

from rl_sweep.atomic import finite_or_none, write_atomic
from rl_sweep.errors import DiskFullError, is_disk_full
from rl_sweep.files.metrics import Aggregated, MetricsDocument, MetricsMetadata, TimeSeriesEntry, TrainingMetrics

RECORDING_INTERVAL = 100  # steps between time-series entries (the contract's recording_interval)
WINDOW = 100  # training episodes the time series' means are taken over
CSV_COLUMNS = list(TimeSeriesEntry.__annotations__)


class EpisodeStats:
    """Completed training episodes: a count, running totals, and the latest ``WINDOW`` of them."""

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        state = state or {}
        self.count: int = state.get("count", 0)
        self.return_sum: float = state.get("return_sum", 0.0)
        self.return_sumsq: float = state.get("return_sumsq", 0.0)
        self.return_min: float | None = state.get("return_min")
        self.return_max: float | None = state.get("return_max")
        self.length_sum: int = state.get("length_sum", 0)
        self.window: deque[tuple[float, int]] = deque(
            (tuple(pair) for pair in state.get("window", [])), maxlen=WINDOW
        )

    def add(self, episode_return: float, length: int) -> None:
        """Count one completed episode."""
        self.count += 1
        self.return_sum += episode_return
        self.return_sumsq += episode_return * episode_return
        self.return_min = episode_return if self.return_min is None else min(self.return_min, episode_return)
        self.return_max = episode_return if self.return_max is None else max(self.return_max, episode_return)
        self.length_sum += length
        self.window.append((episode_return, length))

    def recent_means(self) -> tuple[float | None, float | None]:
        """Mean return and length over the latest ``WINDOW`` episodes; None before the first."""
        if not self.window:
            return None, None
        n = len(self.window)
        return sum(map(itemgetter(0), self.window)) / n, sum(map(itemgetter(1), self.window)) / n

    def aggregated(self, total_timesteps: int) -> Aggregated:
        """Statistics over every completed training episode."""
        if self.count == 0:
            mean = std = length_mean = None
        else:
            mean = self.return_sum / self.count
            std = math.sqrt(max(self.return_sumsq / self.count - mean * mean, 0.0))
            length_mean = self.length_sum / self.count
        return Aggregated(
            reward_mean=mean,
            reward_std=std,
            reward_min=self.return_min,
            reward_max=self.return_max,
            episode_length_mean=length_mean,
            total_timesteps=total_timesteps,
        )

    def state(self) -> dict[str, Any]:
        """A JSON-ready snapshot, stored in checkpoints."""
        return {
            "count": self.count,
            "return_sum": self.return_sum,
            "return_sumsq": self.return_sumsq,
            "return_min": self.return_min,
            "return_max": self.return_max,
            "length_sum": self.length_sum,
            "window": [list(pair) for pair in self.window],
        }


class MetricsRecorder:
    """Keeps the time series; appends each record to the CSV, rewrites the JSON on demand.

    Each entry is serialised once, when recorded, so that rewriting the JSON at every checkpoint
    costs a string join and a write rather than serialising the whole (growing) series again.
    The CSV gets the new rows at each JSON rewrite too, so a record costs no file access.

    :param json_path: the metrics JSON, rewritten atomically by :meth:`write_json`.
    :param csv_path: the CSV, holding the whole series (earlier entries first on resume).
    :param metadata: the JSON's ``metadata`` block.
    :param series: the entries recorded before this process started (resumption).
    :param start_step: the step training starts from (a resumed run's): the next entry is the first
        multiple of the recording interval after it, and after the series' last.
    """

    def __init__(self, json_path: Path, csv_path: Path, metadata: MetricsMetadata,
                 series: list[TimeSeriesEntry], start_step: int = 0) -> None:
        self.json_path = json_path
        self.metadata = metadata
        self._lines = [_entry_json(entry) for entry in series]
        last = max(series[-1]["timestep"] if series else 0, start_step)
        self.next_record = (last // RECORDING_INTERVAL + 1) * RECORDING_INTERVAL
        self._csv: IO[str] = open(csv_path, "a", newline="")
        self._csv_writer = csv.DictWriter(self._csv, fieldnames=CSV_COLUMNS)
        if self._csv.tell() == 0:
            self._csv_writer.writeheader()
        self._csv_pending: list[TimeSeriesEntry] = list(series)
        self._write_csv()

    def due(self, step: int) -> bool:
        """Whether ``step`` has reached the next multiple of ``RECORDING_INTERVAL`` (a record is due)."""
        return step >= self.next_record

    def record(self, step: int, episodes: EpisodeStats, loss: float | None, timestamp: str) -> TimeSeriesEntry:
        """Add the entry for ``step`` to the series (and, at the next :meth:`write_json`, to the files)."""
        reward, length = episodes.recent_means()
        entry = finite_or_none(TimeSeriesEntry(timestep=step, episode=episodes.count, reward=reward,
                                               episode_length=length, loss=loss, timestamp=timestamp))
        self._lines.append(_entry_json(entry))
        self.next_record = (step // RECORDING_INTERVAL + 1) * RECORDING_INTERVAL
        self._csv_pending.append(entry)
        return entry

    def write_json(self, episodes: EpisodeStats, total_timesteps: int) -> None:
        """Rewrite the metrics JSON atomically with everything recorded so far; append the CSV's new rows."""
        self._write_csv()
        document = MetricsDocument(training_metrics=TrainingMetrics(
            metadata=self.metadata, time_series=[], aggregated=episodes.aggregated(total_timesteps),
        ))
        text = json.dumps(finite_or_none(document), indent=2, allow_nan=False)
        series = "[\n      " + ",\n      ".join(self._lines) + "\n    ]" if self._lines else "[]"
        data = text.replace('"time_series": []', f'"time_series": {series}', 1).encode() + b"\n"
        write_atomic(self.json_path, lambda f: f.write(data))

    def close(self) -> None:
        """Close the CSV file; every row a run completes with was flushed by its last :meth:`write_json`."""
        with suppress(OSError):  # a full disk, reported already where it happened
            self._csv.close()

    def _write_csv(self) -> None:
        """Append the pending rows to the CSV; a full disk is a DiskFullError (exit code 2)."""
        try:
            self._csv_writer.writerows(self._csv_pending)
            self._csv.flush()
        except OSError as exc:
            if is_disk_full(exc):
                raise DiskFullError(f"disk full while appending to {self._csv.name}") from exc
            raise
        self._csv_pending.clear()


def _entry_json(entry: TimeSeriesEntry) -> str:
    """One time-series entry as a line of strict JSON."""
    return json.dumps(entry, allow_nan=False)
