"""A trial's folder in storage, kept a copy of the staging folder its run writes on its own node: what a trial
on remote storage (``s3://...``) writes goes up after every step, while the next step trains."""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from rl_sweep.storage import Storage


class FolderMirror:
    """Keeps a folder in storage a copy of a local folder, uploading only the files that changed, several at once.

    The run's results, metrics and checkpoints go up at every push, so that storage always holds what a
    restored trial continues from; its logs (appended at every step, and needed by no restore) at most
    every ``log_period`` seconds, and at the last push. A push may upload in the background, while the run
    trains on: it reads the files it sends when it starts, and one push ends before the next begins.

    Storage always holds a consistent prefix of the run: a push sends its zips (checkpoints, the model) first and only
    then the files that name them (results, metrics), so what storage holds never refers to a checkpoint it lacks.

    Storage never keeps a file the run no longer has, and never loses one: as a run's folder is set aside on a
    local disk (:func:`rl_sweep.run.folder.set_aside`), files go to a sibling ``earlier_{time}_{folder}`` in
    storage. A run that did not start from storage's copy (a fresh start, as when Tune restarts a trial from
    scratch) sets aside all of it at its first push; a resumed one, the files it moved out of its folder (the
    checkpoints of the future it abandons).

    :param storage: where the copy lives.
    :param local: the folder a run writes.
    :param parts: the copy's path in storage.
    """

    log_period = 30.0

    def __init__(self, storage: Storage, local: Path, *parts: str) -> None:
        self.storage, self.local, self.parts = storage, local, parts
        self.folder = "/".join(parts)
        self._sent: dict[str, tuple[int, int]] | None = None  # None until a pull or the first push
        self._logs_sent = 0.0
        self._pending: Future | None = None  # the push uploading in the background
        self._background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mirror")
        self.bytes_uploaded = 0

    def pull(self) -> None:
        """Start from storage's copy (a trial restored on another node continues its files)."""
        self.wait()
        self.storage.download(self.local, *self.parts)
        self._sent = self._stamps()

    def push(self, final: bool = False, background: bool = False) -> None:
        """Upload every file that is new or changed since the last push (logs only now and then, or when
        ``final``); set aside in storage what the run no longer has. With ``background``, return once the
        files are read: the upload goes on while the caller works, and its failure is raised by the next
        push or :meth:`wait`. The previous push ends first."""
        self.wait()
        current = self._stamps()
        if self._sent is None:  # a fresh start: storage's copy is an earlier run's (until moved, tried again)
            self._set_aside(self.storage.files(self.folder))
            self._sent = {}
        gone = [name for name in self._sent if name not in current]
        if gone:
            self._set_aside(gone)
            for name in gone:
                del self._sent[name]
        logs = final or time.monotonic() - self._logs_sent >= self.log_period
        changed = {name: stamp for name, stamp in current.items()
                   if self._sent.get(name) != stamp and (logs or not name.startswith("logs/"))}
        if logs:
            self._logs_sent = time.monotonic()
        contents = {name: (self.local / name).read_bytes() for name in changed}  # as they are now
        if background and not final:
            self._pending = self._background.submit(self._send, changed, contents)
        else:
            self._send(changed, contents)

    def wait(self) -> None:
        """Until the push in the background has uploaded its files; raise its error if it failed."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def _send(self, changed: dict[str, tuple[int, int]], contents: dict[str, bytes]) -> None:
        zips = [name for name in changed if name.endswith(".zip")]  # the checkpoints and the final model
        with ThreadPoolExecutor(max_workers=4) as pool:
            for batch in (zips, [name for name in changed if name not in zips]):
                list(pool.map(lambda name: self.storage.write_bytes(contents[name], *self.parts, name), batch))
        self._sent.update(changed)
        self.bytes_uploaded += sum(size for size, _ in changed.values())

    def _set_aside(self, names: list[str]) -> None:
        if names:
            self.storage.set_aside(self.folder, names)

    def _stamps(self) -> dict[str, tuple[int, int]]:
        # Temporary files of atomic writes start with "."; none is open between two steps.
        return {path.relative_to(self.local).as_posix(): (stat.st_size, stat.st_mtime_ns)
                for path in self.local.rglob("*")
                if path.is_file() and not path.name.startswith(".") and (stat := path.stat())}
