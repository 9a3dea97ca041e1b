"""Where results live: a local folder, or a URI of a filesystem pyarrow knows (``s3://bucket/prefix``, with
query parameters such as ``endpoint_override`` and ``scheme`` for an S3-compatible server, ``gs://...``).

A sweep's trials write their contract files on their own node; with a URI the files are written to a
local staging folder and mirrored to storage after every checkpoint (:class:`~rl_sweep.sweep.mirror.FolderMirror`),
with the same pyarrow filesystems Ray Tune uses for its own checkpoints. An object store writes each object
whole, so a reader never sees a partial file there either.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs

from rl_sweep.atomic import finite_or_none, write_atomic
from rl_sweep.errors import ConfigError
from rl_sweep.identity import earlier_name


def sweep_folder(name: str) -> str:
    """Where sweep ``name`` keeps its files under a results location: ``sweeps/{name}``."""
    return f"sweeps/{name}"


class Storage:
    """A results location, and the files under it named by path parts.

    :param location: a local path (made absolute), or a URI with a scheme (``s3://``, ``gs://``, ...).
    """

    def __init__(self, location: str) -> None:
        self.is_local = "://" not in location or location.startswith("file://")
        if self.is_local:
            self.location = str(Path(location.removeprefix("file://")).resolve())
            self.fs: pafs.FileSystem = pafs.LocalFileSystem()
            self.root, self._query = self.location, ""
        else:
            self.location = location
            self._query = location.partition("?")[2]
            try:
                self.fs, self.root = pafs.FileSystem.from_uri(_small_writes_whole(location))
            except (pafs.ArrowInvalid, OSError, ValueError) as exc:
                raise ConfigError(f"--results-dir {location}: not a storage location pyarrow can open ({exc})") from exc
            self.root = self.root.rstrip("/")

    def uri(self, *parts: str) -> str:
        """The location of ``parts``, as Ray Tune and a user take it (a URI keeps its query parameters)."""
        if self.is_local:
            return str(Path(self.root, *parts))
        base = self.location.partition("?")[0].rstrip("/")
        return "/".join([base, *parts]) + (f"?{self._query}" if self._query else "")

    def tune_uri(self, *parts: str) -> str:
        """The location of ``parts`` for Ray Tune's own storage: :meth:`uri`, its small files written whole on S3
        as this storage writes them (see :func:`_small_writes_whole`)."""
        return _small_writes_whole(self.uri(*parts))

    def path(self, *parts: str) -> str:
        """``parts`` as a path on :attr:`fs`."""
        return "/".join([self.root, *parts])

    def local_path(self, *parts: str) -> Path:
        """``parts`` on this machine's disk: a local storage's own folder."""
        assert self.is_local, "a remote storage has no local path"
        return Path(self.root, *parts)

    def exists(self, *parts: str) -> bool:
        return self.fs.get_file_info(self.path(*parts)).type != pafs.FileType.NotFound

    def read_text(self, *parts: str) -> str:
        """A file's text; FileNotFoundError when there is none."""
        if not self.exists(*parts):
            raise FileNotFoundError(self.uri(*parts))
        with self.fs.open_input_stream(self.path(*parts)) as stream:
            return stream.read().decode()

    def write_bytes(self, data: bytes, *parts: str) -> None:
        """Write a file whole: atomically on a local disk, as one object on an object store."""
        if self.is_local:
            path = self.local_path(*parts)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, lambda f: f.write(data))
            return
        with self.fs.open_output_stream(self.path(*parts)) as stream:
            stream.write(data)

    def create_exclusive(self, data: bytes, *parts: str, settle: float = 2.0,
                         meanwhile: Callable[[], None] = lambda: None) -> bool:
        """Create a file that must not exist yet, and call ``meanwhile`` once it is written; False when the file
        exists (``meanwhile`` not called). A failing ``meanwhile`` removes the file again. On a local disk an
        exclusive create (atomic). An object store here has no conditional write, so the object is written when
        absent, then read back once ``settle`` seconds have passed (``meanwhile`` runs in them): of two writers,
        only the one whose bytes stand goes on; both go on only if one paused for longer than ``settle`` between
        its check and its write."""
        if self.is_local:
            path = self.local_path(*parts)
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                with open(path, "xb") as handle:
                    handle.write(data)
            except FileExistsError:
                return False
            self._meanwhile(meanwhile, *parts)
            return True
        if self.exists(*parts):
            return False
        with self.fs.open_output_stream(self.path(*parts)) as stream:
            stream.write(data)
        written = time.monotonic()
        self._meanwhile(meanwhile, *parts)
        time.sleep(max(0.0, settle - (time.monotonic() - written)))
        with self.fs.open_input_stream(self.path(*parts)) as stream:
            return stream.read() == data

    def _meanwhile(self, meanwhile: Callable[[], None], *parts: str) -> None:
        """``meanwhile()``, once the file ``parts`` is created; if it fails, the file is removed again."""
        try:
            meanwhile()
        except BaseException:
            self.remove(*parts)
            raise

    def files(self, *parts: str) -> list[str]:
        """The files under the folder ``parts``, by their paths relative to it (none when there is no folder)."""
        base = self.path(*parts)
        found = self.fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
        return sorted(info.path[len(base):].lstrip("/") for info in found if info.type == pafs.FileType.File)

    def move(self, source: str, destination: str) -> None:
        """Move one file (on an object store: a copy, then a delete)."""
        if self.is_local:
            Path(self.path(destination)).parent.mkdir(parents=True, exist_ok=True)
        self.fs.move(self.path(source), self.path(destination))

    def set_aside(self, folder: str, names: Sequence[str] | None = None) -> str:
        """Move ``names`` (files of ``folder``; None: the whole folder) to its sibling ``earlier_{UTC time}_{folder}``,
        where no glob of run folders takes them for a run, several at once; return that sibling."""
        parent, _, base = folder.rpartition("/")
        aside = f"{parent}/{earlier_name(base)}".lstrip("/")
        if names is None and self.is_local:
            self.local_path(folder).rename(self.local_path(aside))
            return aside
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda name: self.move(f"{folder}/{name}", f"{aside}/{name}"),
                          self.files(folder) if names is None else names))
        return aside

    def remove(self, *parts: str) -> None:
        """Delete a file, if it is there."""
        if self.exists(*parts):
            self.fs.delete_file(self.path(*parts))

    def write_json(self, document: Any, *parts: str) -> None:
        """Strict JSON (no NaN or Infinity), written whole."""
        self.write_bytes(json.dumps(finite_or_none(document), indent=2, allow_nan=False).encode() + b"\n", *parts)

    def upload(self, local: Path, *parts: str) -> None:
        """Copy a local file or folder to ``parts``."""
        if self.is_local:  # an object store has no folders to make (pyarrow would write marker objects)
            Path(self.path(*parts)).parent.mkdir(parents=True, exist_ok=True)
        pafs.copy_files(str(local), self.path(*parts), source_filesystem=pafs.LocalFileSystem(),
                        destination_filesystem=self.fs)

    def download(self, local: Path, *parts: str) -> bool:
        """Copy the folder ``parts`` into ``local``; False when there is none."""
        if not self.exists(*parts):
            return False
        local.mkdir(parents=True, exist_ok=True)
        pafs.copy_files(self.path(*parts), str(local), source_filesystem=self.fs,
                        destination_filesystem=pafs.LocalFileSystem())
        return True

    def fetch(self, local: Path, folder: str, suffixes: tuple[str, ...]) -> Path:
        """A local folder holding the files of ``folder`` whose names end with one of ``suffixes``: the folder
        itself on a local disk, else ``local`` with copies of them (empty when storage has none)."""
        if self.is_local:
            return self.local_path(folder)
        local.mkdir(parents=True, exist_ok=True)
        if self.exists(folder):
            for info in self.fs.get_file_info(pafs.FileSelector(self.path(folder))):
                if info.type == pafs.FileType.File and info.base_name.endswith(suffixes):
                    pafs.copy_files(info.path, str(local / info.base_name), source_filesystem=self.fs,
                                    destination_filesystem=pafs.LocalFileSystem())
        return local


def _small_writes_whole(location: str) -> str:
    """``location`` for pyarrow, which opens every file it writes on S3 as a multipart upload (3 requests, and 2
    more round trips before the first byte) unless told it may delay the open: then a file smaller than a part
    (10 MiB), as most files of a run are, goes up in one request when it is closed. An error that the open would
    have raised is raised by the close, which every write here waits for."""
    base, _, query = location.partition("?")
    if not base.startswith("s3://") or "allow_delayed_open=" in query:
        return location
    return f"{base}?{'&'.join(filter(None, [query, 'allow_delayed_open=true']))}"
