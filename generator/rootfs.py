"""Reading and writing inside an image root without ever leaving it: the one rule for roots.

An image root is someone else's tree: it may hold symlinks that make sense only once it is
booted (``/lib -> usr/lib``, an absolute ``/etc/foo -> /usr/share/foo``), or, by mistake or
malice, links that lead out of it. Every path is walked one component at a time from a
descriptor of the root, opening each directory with ``O_NOFOLLOW`` relative to its parent, so
that a symlink is always seen before it is followed and a link swapped in during the walk makes
the open fail instead of escaping. The rule is the one ``systemctl --root`` follows: an
absolute symlink means the image's own ``/`` and is resolved from the root, a relative one from
where it stands; a ``..`` that would climb above the root is refused, never clamped (the same
stance as pypa/installer's destination: normalise, then refuse anything not under the target).
The config loader, the installer, ``verify``, ``status`` and the generator under ``--root`` all
resolve through this module.

Files are replaced atomically: a temporary file in the same directory, fsync, ``rename``, fsync
of the directory. A kill at any point leaves the old file or the new one, plus at worst a
temporary entry named with :data:`TEMP_PREFIX`, which the next run sweeps away.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
from typing import NamedTuple

from .errors import Failure, UsageError

TEMP_PREFIX = ".ostree-autocleanup-tmp."
_MAX_SYMLINK_HOPS = 40
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class RootError(Exception):
    """The root given on the command line cannot be used (bad usage)."""


class EscapeError(Exception):
    """A path inside the root would lead outside it, or through something that is no directory."""


class Entry(NamedTuple):
    """What is at one path inside the root, without following a final symlink."""

    kind: str  # "missing", "file", "symlink", "directory" or "other"
    data: bytes | None = None  # contents of a file
    mode: int = 0  # permission bits of a file
    target: str | None = None  # where a symlink points


def _token() -> str:
    # Not the secrets module: it pulls in hashlib and random, and the generator's cold path
    # reads configs through this module at boot.
    return os.urandom(4).hex()


def normalise(path: str) -> str:
    """A root-relative path in canonical form; ``..`` and absolute paths are refused outright."""
    if "\0" in path:
        raise EscapeError(f"{path!r}: a path may not contain a NUL byte")
    if path.startswith("/"):
        raise EscapeError(f"{path}: expected a path relative to the root")
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if not parts:
        raise EscapeError(f"{path!r}: the root itself is not a file")
    if ".." in parts:
        raise EscapeError(f"{path}: '..' may not appear in a path inside the root")
    return "/".join(parts)


def _join(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name


def _split(path: str) -> tuple[str, str]:
    parent, _, name = normalise(path).rpartition("/")
    return parent, name


def _fsync_dir(fd: int) -> None:
    os.fsync(fd)


class Root:
    """A directory that stands for ``/`` of an image, and the only place this object writes."""

    def __init__(self, path: str, *, read_only: bool = False) -> None:
        """Open the root at ``path``. A root that is itself a symlink is refused for writing
        (a typo'd DESTDIR must not redirect an install); ``read_only`` callers may pass one,
        such as a container's ``/proc/PID/root``."""
        absolute = os.path.abspath(path)
        try:
            info = os.lstat(absolute)
        except FileNotFoundError:
            raise RootError(f"{path}: root directory does not exist") from None
        except OSError as error:
            raise RootError(f"{path}: cannot use as root: {error.strerror}") from None
        flags = _DIR_FLAGS
        if stat.S_ISLNK(info.st_mode):
            if not read_only:
                raise RootError(
                    f"{path}: root is a symlink (pass the directory it points to, "
                    f"{os.path.realpath(absolute)}, if that is really meant)"
                )
            flags &= ~os.O_NOFOLLOW
        elif not stat.S_ISDIR(info.st_mode):
            raise RootError(f"{path}: root is not a directory")
        self.path = absolute
        # O_NOFOLLOW again: a root swapped for a symlink after the lstat above fails here.
        try:
            self._fd = os.open(absolute, flags)
        except NotADirectoryError:
            raise RootError(f"{path}: root is not a directory") from None
        except OSError as error:
            raise RootError(f"{path}: cannot open root: {error.strerror}") from None

    def lock(self) -> bool:
        """Take the advisory lock that keeps two installs from interleaving in one root.

        flock(2) on the root directory itself: it needs no file of ours in the root, and it goes
        away with the process, however that ends. False when someone else holds it.
        """
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> Root:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def is_host(self) -> bool:
        return self.path == "/"

    def show(self, path: str) -> str:
        """How a root-relative path looks in messages: as the host path of the file."""
        if not path:
            return self.path
        return os.path.join(self.path, path)

    # -- walking -----------------------------------------------------------------------------

    def _walk(
        self, path: str, create: list[str] | None, via: str | None = None
    ) -> tuple[int, str, list[str]]:
        """Open directory ``path`` through in-root symlinks.

        Returns a descriptor of the deepest directory reached, its root-relative real path and
        the components still missing below it. With ``create`` (a list), missing directories are
        made and their paths appended to it, so the remainder is always empty then.
        """
        pending = [part for part in path.split("/") if part not in ("", ".")]
        stack: list[tuple[int, str]] = [(os.dup(self._fd), "")]
        hops = 0
        last_link = via  # the symlink that led here, which messages name
        try:
            while pending:
                name = pending.pop(0)
                fd, here = stack[-1]
                if name == "..":
                    if len(stack) == 1:
                        what = "symlink" if last_link else "'..'"
                        raise EscapeError(
                            f"{self.show(last_link or path)}: {what} leads outside the root"
                        )
                    os.close(stack.pop()[0])
                    continue
                child = _join(here, name)
                made = False
                try:
                    info = os.stat(name, dir_fd=fd, follow_symlinks=False)
                except FileNotFoundError:
                    if create is None:
                        missing = [name, *pending]
                        if ".." in missing:
                            raise EscapeError(
                                f"{self.show(last_link or path)}: symlink leads through a "
                                f"missing directory and back up; refusing to guess"
                            ) from None
                        result = stack.pop()
                        return result[0], result[1], missing
                    try:
                        os.mkdir(name, 0o755, dir_fd=fd)
                    except OSError as error:
                        # Name the directory as the user knows it, not the bare component.
                        raise _named(error, self.show(child)) from None
                    made = True
                    info = os.stat(name, dir_fd=fd, follow_symlinks=False)
                if stat.S_ISLNK(info.st_mode):
                    target = os.readlink(name, dir_fd=fd)
                    hops += 1
                    if hops > _MAX_SYMLINK_HOPS:
                        raise EscapeError(f"{self.show(child)}: too many levels of symlinks")
                    last_link = child
                    if target.startswith("/"):
                        # The image's own /: start again from the root, not from the host's.
                        for deeper, _ in stack[1:]:
                            os.close(deeper)
                        del stack[1:]
                    pending = [p for p in target.split("/") if p not in ("", ".")] + pending
                    continue
                if not stat.S_ISDIR(info.st_mode):
                    raise EscapeError(f"{self.show(child)}: not a directory")
                stack.append((os.open(name, _DIR_FLAGS, dir_fd=fd), child))
                if made:
                    # The umask must not decide who may read unit directories.
                    os.fchmod(stack[-1][0], 0o755)
                    _fsync_dir(fd)
                    assert create is not None
                    create.append(child)
            result = stack.pop()
            return result[0], result[1], []
        finally:
            for fd, _ in stack:
                os.close(fd)

    def _open_parent(self, path: str) -> tuple[int | None, str, str]:
        """Descriptor of the parent of ``path`` (None when it does not exist), real path, name."""
        parent, name = _split(path)
        fd, real, missing = self._walk(parent, None)
        if missing:
            os.close(fd)
            return None, real, name
        return fd, real, name

    def resolve(self, path: str) -> str:
        """The root-relative real path of ``path``, every symlink on the way resolved inside
        the root, the last one too; components that do not exist are kept as written."""
        pending = path
        via: str | None = None  # the last symlink followed, which messages name
        for _ in range(_MAX_SYMLINK_HOPS):
            parts = [part for part in pending.split("/") if part not in ("", ".")]
            whole = not parts or parts[-1] == ".."  # a directory to walk to the end
            fd, real, missing = self._walk(pending if whole else "/".join(parts[:-1]), None, via)
            try:
                if whole or missing:
                    return "/".join(p for p in (real, *missing, *parts[-1:][: not whole]) if p)
                final = parts[-1]
                try:
                    info = os.stat(final, dir_fd=fd, follow_symlinks=False)
                except FileNotFoundError:
                    return _join(real, final)
                if not stat.S_ISLNK(info.st_mode):
                    return _join(real, final)
                target = os.readlink(final, dir_fd=fd)
            finally:
                os.close(fd)
            via = _join(real, final)
            # An absolute target keeps its leading '/', which the walk reads as the root.
            pending = target if target.startswith("/") else f"{real}/{target}"
        raise EscapeError(f"{self.show(path)}: too many levels of symlinks")

    def host_path(self, path: str) -> str:
        """Where ``path`` of the image is on this machine, resolved by :meth:`resolve`."""
        return self.show(self.resolve(path))

    def host_entry_path(self, path: str) -> str:
        """Where the entry ``path`` itself is on this machine: every directory on the way is
        resolved inside the root, a final symlink is not followed (lstat(2), readlink(2))."""
        parts = [part for part in path.split("/") if part not in ("", ".")]
        if not parts or parts[-1] == "..":
            return self.host_path(path)
        return self.show(_join(self.resolve("/".join(parts[:-1])), parts[-1]))

    def missing_directories(self, directory: str) -> list[str]:
        """The directories that writing into ``directory`` would create, outermost first."""
        fd, real, missing = self._walk(directory, None)
        os.close(fd)
        result = []
        for name in missing:
            real = _join(real, name)
            result.append(real)
        return result

    def writable(self, directory: str) -> bool:
        """Whether the deepest existing directory on the way to ``directory`` accepts writes.

        access(2) reports a read-only mount as EROFS even for root, so a read-only image is
        found out before the first write instead of half-way through.
        """
        fd, _, _ = self._walk(directory, None)
        try:
            return os.access(".", os.W_OK, dir_fd=fd)
        finally:
            os.close(fd)

    # -- reading -----------------------------------------------------------------------------

    def entry(self, path: str) -> Entry:
        fd, _, name = self._open_parent(path)
        if fd is None:
            return Entry("missing")
        try:
            try:
                info = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                return Entry("missing")
            if stat.S_ISLNK(info.st_mode):
                return Entry("symlink", target=os.readlink(name, dir_fd=fd))
            if stat.S_ISDIR(info.st_mode):
                return Entry("directory")
            if not stat.S_ISREG(info.st_mode):
                return Entry("other")
            file_fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            with os.fdopen(file_fd, "rb") as stream:
                data = stream.read()
            return Entry("file", data=data, mode=stat.S_IMODE(info.st_mode))
        finally:
            os.close(fd)

    def snapshot(self, directory: str) -> dict[str, str]:
        """Every directory and symlink at and below ``directory``: path -> "dir" or "-> TARGET".

        The chain of directories leading to it is included, so that a run which created
        ``etc/systemd/system`` on the way can tell.
        """
        result: dict[str, str] = {}
        parts = normalise(directory).split("/")
        for depth in range(1, len(parts)):
            ancestor = "/".join(parts[:depth])
            kind = self.entry(ancestor).kind
            if kind == "missing":
                return result
            result[ancestor] = "dir" if kind == "directory" else kind
        try:
            fd, real, missing = self._walk(directory, None)
        except EscapeError:
            return result
        if missing:
            os.close(fd)
            return result
        result[real] = "dir"
        self._snapshot_into(fd, real, result)
        return result

    def _snapshot_into(self, fd: int, here: str, result: dict[str, str]) -> None:
        try:
            for name in sorted(os.listdir(fd)):
                child = _join(here, name)
                info = os.stat(name, dir_fd=fd, follow_symlinks=False)
                if stat.S_ISLNK(info.st_mode):
                    result[child] = "-> " + os.readlink(name, dir_fd=fd)
                elif stat.S_ISDIR(info.st_mode):
                    result[child] = "dir"
                    sub = os.open(name, _DIR_FLAGS, dir_fd=fd)
                    self._snapshot_into(sub, child, result)
        finally:
            os.close(fd)

    def list_directory(self, directory: str) -> list[str]:
        """Sorted names in ``directory``; empty when it does not exist."""
        fd, _, missing = self._walk(directory, None)
        try:
            return [] if missing else sorted(os.listdir(fd))
        finally:
            os.close(fd)

    # -- writing -----------------------------------------------------------------------------

    def write(self, path: str, data: bytes, mode: int, created: list[str]) -> None:
        """Replace ``path`` with ``data`` atomically, making missing parents (into ``created``)."""
        parent, name = _split(path)
        fd, _, _ = self._walk(parent, created)
        try:
            _replace_in(fd, name, data, mode)
        except OSError as error:
            # The error of a temporary file is the error of the file it was to become.
            raise _named(error, self.show(path)) from None
        finally:
            os.close(fd)

    def write_with_parents_atomically(
        self, path: str, data: bytes, mode: int, created: list[str]
    ) -> None:
        """Like :meth:`write`, but the missing parents appear together with the file.

        The missing directories are built under a temporary name next to the outermost one and
        renamed into place in one step: after a kill, either the whole chain with the file
        exists or none of it does. The manifest is written this way, so that a directory we
        made never exists without the manifest that says we made it.
        """
        parent, name = _split(path)
        fd, real, missing = self._walk(parent, None)
        try:
            if not missing:
                _replace_in(fd, name, data, mode)
                return
            temp = TEMP_PREFIX + missing[0] + "." + _token()
            os.mkdir(temp, 0o755, dir_fd=fd)
            try:
                inner = os.open(temp, _DIR_FLAGS, dir_fd=fd)
                try:
                    os.fchmod(inner, 0o755)
                    for component in missing[1:]:
                        os.mkdir(component, 0o755, dir_fd=inner)
                        deeper = os.open(component, _DIR_FLAGS, dir_fd=inner)
                        os.fchmod(deeper, 0o755)
                        os.fsync(inner)
                        os.close(inner)
                        inner = deeper
                    _replace_in(inner, name, data, mode)
                finally:
                    os.close(inner)
            except BaseException:
                # A reported failure (ENOSPC half-way) takes its half-built chain with it; a
                # kill leaves it to the next run's sweep.
                with contextlib.suppress(OSError):
                    _delete_tree(fd, temp)
                raise
            _rename_noreplace(fd, temp, missing[0])
            _fsync_dir(fd)
            for component in missing:
                real = _join(real, component)
                created.append(real)
        except OSError as error:
            raise _named(error, self.show(path)) from None
        finally:
            os.close(fd)

    def symlink(self, path: str, target: str) -> None:
        """Make ``path`` a symlink to ``target``, atomically replacing whatever is there.

        Used to put back a link that a failed run had removed or replaced; its parent must
        exist.
        """
        parent, name = _split(path)
        fd, _, missing = self._walk(parent, None)
        try:
            if missing:
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT))
            temp = TEMP_PREFIX + name + "." + _token()
            os.symlink(target, temp, dir_fd=fd)
            try:
                os.rename(temp, name, src_dir_fd=fd, dst_dir_fd=fd)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temp, dir_fd=fd)
                raise
            _fsync_dir(fd)
        except OSError as error:
            raise _named(error, self.show(path)) from None
        finally:
            os.close(fd)

    def remove(self, path: str) -> bool:
        """Remove the file or symlink at ``path``; False when it was already gone."""
        fd, _, name = self._open_parent(path)
        if fd is None:
            return False
        try:
            try:
                os.unlink(name, dir_fd=fd)
            except FileNotFoundError:
                return False
            _fsync_dir(fd)
            return True
        finally:
            os.close(fd)

    def remove_directory(self, path: str) -> bool:
        """Remove ``path`` if it is an empty directory; False when it is not there or not empty."""
        fd, _, name = self._open_parent(path)
        if fd is None:
            return False
        try:
            try:
                info = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                return False
            if not stat.S_ISDIR(info.st_mode):
                return False
            try:
                os.rmdir(name, dir_fd=fd)
            except OSError as error:
                if error.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT):
                    return False
                raise
            _fsync_dir(fd)
            return True
        finally:
            os.close(fd)

    def remove_tree_atomically(self, path: str) -> None:
        """Make directory ``path`` vanish in one step, then delete what it held.

        Used for directories that only we wrote into: after a kill the directory is either
        still complete or gone, and the temporary leftover is swept by the next run.
        """
        fd, _, name = self._open_parent(path)
        if fd is None:
            return
        try:
            temp = TEMP_PREFIX + name + "." + _token()
            os.rename(name, temp, src_dir_fd=fd, dst_dir_fd=fd)
            _fsync_dir(fd)
            _delete_tree(fd, temp)
            _fsync_dir(fd)
        finally:
            os.close(fd)

    def sweep_temporaries(self, directory: str) -> list[str]:
        """Delete what an interrupted run left under :data:`TEMP_PREFIX` names in ``directory``."""
        try:
            fd, real, missing = self._walk(directory, None)
        except EscapeError:
            return []
        removed = []
        try:
            if missing:
                return []
            for name in sorted(os.listdir(fd)):
                if name.startswith(TEMP_PREFIX):
                    _delete_tree(fd, name)
                    removed.append(_join(real, name))
            if removed:
                _fsync_dir(fd)
            return removed
        finally:
            os.close(fd)


def _named(error: OSError, path: str) -> OSError:
    """``error`` again, naming ``path`` (OSError() picks the subclass from the errno)."""
    if error.errno is None:
        return error
    return OSError(error.errno, error.strerror or os.strerror(error.errno), path)


def _replace_in(fd: int, name: str, data: bytes, mode: int) -> None:
    temp = TEMP_PREFIX + name + "." + _token()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    file_fd = os.open(temp, flags, 0o600, dir_fd=fd)
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(file_fd, view)
                view = view[written:]
            # Explicit, because the umask must not decide the mode of a unit or a generator.
            os.fchmod(file_fd, mode)
            os.fsync(file_fd)
        finally:
            os.close(file_fd)
        os.rename(temp, name, src_dir_fd=fd, dst_dir_fd=fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=fd)
        raise
    _fsync_dir(fd)


def _rename_noreplace(fd: int, source: str, target: str) -> None:
    # Python has no renameat2(RENAME_NOREPLACE); a check right before is enough against the only
    # contender we know of (a directory made by a package manager between our walk and here).
    try:
        os.stat(target, dir_fd=fd, follow_symlinks=False)
    except FileNotFoundError:
        os.rename(source, target, src_dir_fd=fd, dst_dir_fd=fd)
        return
    _delete_tree(fd, source)
    raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), target)


def _delete_tree(fd: int, name: str) -> None:
    """Delete ``name`` below ``fd``: files and symlinks unlinked, directories emptied first."""
    info = os.stat(name, dir_fd=fd, follow_symlinks=False)
    if not stat.S_ISDIR(info.st_mode):
        os.unlink(name, dir_fd=fd)
        return
    sub = os.open(name, _DIR_FLAGS, dir_fd=fd)
    try:
        for child in os.listdir(sub):
            _delete_tree(sub, child)
    finally:
        os.close(sub)
    os.rmdir(name, dir_fd=fd)


def resolve(root: str, path: str) -> str:
    """The host path of ``path`` (as the image at ``root`` sees it), resolved inside ``root``.

    Raises RootError for an unusable root and EscapeError for a path that leads out of it.
    """
    with Root(root, read_only=True) as opened:
        return opened.host_path(path)


def resolve_entry(root: str, path: str) -> str:
    """Like :func:`resolve`, but a final symlink is left for the caller to see: the host
    path of the entry itself, for lstat(2), readlink(2) or an ``O_NOFOLLOW`` open."""
    with Root(root, read_only=True) as opened:
        return opened.host_entry_path(path)


def write_tree(output: str, files: dict[str, str], mode: int = 0o644) -> None:
    """Write ``files`` (path relative to ``output`` -> text) under ``output``, creating it.

    For ``render --output``, the built docs and verify's scratch root: the same confined, atomic
    writer as ``install``, so a symlink inside the output directory cannot redirect a write
    outside it, and each file is either old or new after a crash.
    """
    try:
        os.makedirs(output, exist_ok=True)
    except OSError as error:
        raise Failure(f"cannot create {output}: {error.strerror or error}") from error
    try:
        with Root(output) as root:
            for relative, text in files.items():
                root.write(relative, text.encode(), mode, [])
    except (RootError, EscapeError) as error:
        raise UsageError(str(error)) from error
    except OSError as error:
        raise Failure(f"cannot write under {output}: {error.strerror or error}") from error
