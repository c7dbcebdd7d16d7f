"""Atomic writes: a reader (or a later run) sees a file's old bytes or its new ones, never a part.

Each file is written under the temp name :func:`state_dir.temp_name` derives from its target, then
renamed into place, so a process killed mid-write leaves only that temp, which the ledger names
and the next run removes. Any ``OSError`` becomes a one-line :class:`~builder.errors.BuildError`.
Given its ``root``, a writer checks the path with :func:`paths.owned` before it creates anything
(a caller without one, the image writer, checked the folder once itself).
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path, PurePath

from ..errors import BuildError
from .paths import owned
from .state_dir import temp_name


_FILE_MODE: int | None = None  # 0o666 less the umask, looked up at the first write (nothing at import)


def file_mode() -> int:
    """The mode a plain ``open`` gives a new file: 0o666 less the process's umask, read from
    /proc (Linux), else by setting the umask and putting it back; once, at the first write."""
    global _FILE_MODE
    if _FILE_MODE is None:
        try:
            with open("/proc/self/status") as status:
                umask = next(int(line.split()[1], 8) for line in status if line.startswith("Umask:"))
        except (OSError, StopIteration, ValueError, IndexError):
            umask = os.umask(0)
            os.umask(umask)
        _FILE_MODE = 0o666 & ~umask
    return _FILE_MODE


def _open_temp(path: Path | str, make_parent: bool = True) -> tuple[int, Path | str]:
    """Create (or truncate) ``path``'s temp file, never following a link planted at its name."""
    if make_parent:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    try:
        return os.open(tmp, flags, 0o600), tmp
    except FileExistsError:  # a killed run's temp, or a hard link to someone's file: unlinked, never truncated
        os.unlink(tmp)
        return os.open(tmp, flags, 0o600), tmp


def write_fd(fd: int, data: bytes) -> None:
    """All of ``data`` to the file descriptor (a write may take only part of it)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _checked(path, root):
    """``path`` (``root / rel``) unchanged, once the inside-the-root rule allows it (when a root is given)."""
    if root is not None:
        owned(root, PurePath(path).relative_to(root).as_posix())
    return path


def atomic_write(path: Path | str, data: bytes, make_parent: bool = True, *, root: Path | str | None = None) -> None:
    """Write ``data`` to ``path`` via its temp file (:func:`state_dir.temp_name`) and a rename.

    A reader (or a later run) sees the old file or the new one, never a part. A process killed
    mid-write leaves only the temp, whose name the ledger derives from ``path``, so the next run
    removes it. Any ``OSError`` (full disk, read-only folder) becomes a one-line :class:`BuildError`.
    ``make_parent=False`` skips creating ``path``'s folder, for a writer that already made it.
    ``root``: the folder ``path`` lies under, checked with :func:`paths.owned` first.
    """
    path = _checked(path, root)
    try:
        fd, tmp = _open_temp(path, make_parent)
    except OSError as exc:
        raise disk_error(exc, path) from None
    try:
        try:  # raw writes and fchmod: a file object and a path lookup cost ~0.07 ms per image
            write_fd(fd, data)
            os.fchmod(fd, file_mode())  # datasets are meant to be shared
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except (Exception, KeyboardInterrupt) as exc:  # only a kill leaves the temp; the ledger names it
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise disk_error(exc, path) from None
        raise


class AtomicFile:
    """A file streamed under a hidden temp name beside ``path`` and renamed into place by
    :meth:`commit`, for data too big to hold whole (spools, parquet shards); like
    :func:`atomic_write`, a reader never sees a part, and errors are one-line :class:`BuildError`s."""

    def __init__(self, path: Path, open_file: bool = True, *, root: Path | str | None = None):
        self.path = path = _checked(path, root)
        try:
            fd, tmp = _open_temp(path)
            self.tmp = str(tmp)
            self.fh = os.fdopen(fd, "wb") if open_file else None
            if not open_file:
                os.close(fd)
        except OSError as exc:
            raise disk_error(exc, path) from None

    def write(self, data: bytes) -> None:
        try:
            self.fh.write(data)
        except OSError as exc:
            self.abort()
            raise disk_error(exc, self.path) from None

    def commit(self) -> None:
        self.finish()
        try:
            os.replace(self.tmp, self.path)
        except OSError as exc:
            self.abort()
            raise disk_error(exc, self.path) from None

    def finish(self) -> None:
        """Close the temp file, whole, and leave it under its temp name for :func:`place`."""
        try:
            if self.fh is not None:
                self.fh.close()
            os.chmod(self.tmp, file_mode())
        except OSError as exc:
            self.abort()
            raise disk_error(exc, self.path) from None

    def abort(self) -> None:
        if self.fh is not None and not self.fh.closed:
            try:
                self.fh.close()
            except OSError:
                pass
        try:
            os.unlink(self.tmp)
        except OSError:
            pass


def place(path: Path, *, root: Path) -> None:
    """Rename ``path``'s temp file, written whole by :meth:`AtomicFile.finish` (in this process
    or a worker), into place: once the ledger holds the hash of its bytes."""
    path = _checked(path, root)
    try:
        os.replace(temp_name(path), path)
    except OSError as exc:
        try:  # ours (its hash is in the ledger): gone, not left for the next run to name
            os.unlink(temp_name(path))
        except OSError:
            pass
        if isinstance(exc, IsADirectoryError) or exc.errno in (errno.EISDIR, errno.ENOTEMPTY, errno.EEXIST):
            raise BuildError(f"{path} is a folder spectroset did not make, where it writes this file: "
                             "move it away and rerun") from None
        raise disk_error(exc, path) from None


@contextlib.contextmanager
def disk_errors(path: Path):
    """Any ``OSError`` inside (a full disk while staging a push) as the one line of :func:`disk_error`,
    naming the file the error names, else ``path``. Of two (a copy, link or rename: ``shutil``
    puts the source first even when writing the copy failed), the second, the one written."""
    try:
        yield
    except OSError as exc:
        named = exc.filename2 or exc.filename
        raise disk_error(exc, Path(named) if named else path) from None


def refuse_linked(path: Path, st: os.stat_result | None = None) -> None:
    """Stop before writing in place to ``path`` (the lock, the journal) while it has other hard
    links: the write would change the same bytes under every other name (a ``cp -al`` snapshot, a
    user's file linked in). ``st``: its ``fstat``, when it is open already; else it is looked up."""
    if st is None:
        try:
            st = os.lstat(path)
        except OSError:
            return  # not there: created as a file of its own
    if st.st_nlink > 1:
        raise BuildError(f"{path} has {st.st_nlink} hard links (a copy made with cp -l, or a link to another file): "
                         "spectroset writes it in place and would change every copy; make it a file of its own "
                         f"(cp {path} {path}.new && mv {path}.new {path}), or remove it, and rerun")


def disk_error(exc: OSError, path: Path) -> BuildError:
    if exc.errno == errno.ENOSPC:
        return BuildError(f"no space left on the device writing {path}; free space and rerun to resume")
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return BuildError(f"cannot write {path}: {exc.strerror}; fix permissions or choose another -o")
    return BuildError(f"cannot write {path}: {exc.strerror or exc}")
