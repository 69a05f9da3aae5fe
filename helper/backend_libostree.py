"""Cleanup through libostree (PyGObject), synchronous calls only.

Every GLib `*_async` call starts a worker thread that calls sched_setattr, which a strict
seccomp filter kills; nothing here may use one.
"""

from __future__ import annotations

from typing import Any

from . import log
from .deployments import check_before_prune, is_booted_sysroot
from .errors import HelperError
from .lock import wait_for
from .result import Freed
from .usage import freed_since, object_sizes

NAME = "libostree"


def load() -> Any:
    """The OSTree module; raises ImportError or ValueError when PyGObject or the typelib is
    missing."""
    import gi

    gi.require_version("OSTree", "1.0")
    from gi.repository import OSTree

    return OSTree


def _glib_error_type() -> type[BaseException]:
    from gi.repository import GLib

    err: type[BaseException] = GLib.Error
    return err


def clean(
    mode: str, sysroot: str, repo: str, lock_timeout: float, sysroot_readonly: bool = False
) -> Freed:
    ostree = load()
    from gi.repository import Gio

    glib_error = _glib_error_type()
    if is_booted_sysroot(sysroot):
        # See is_booted_sysroot: opened by its path, the booted sysroot loses its staged
        # deployment.
        log.debug(f"{sysroot} is the booted system's sysroot: opening it as /")
        handle = ostree.Sysroot.new_default()
    else:
        handle = ostree.Sysroot.new(Gio.File.new_for_path(sysroot))
    locked = False
    try:
        if sysroot_readonly:
            _opt_in_to_remount(handle)

        def try_lock() -> bool:
            _ok, acquired = handle.try_lock()
            return bool(acquired)

        wait_for(try_lock, sysroot, lock_timeout)
        locked = True
        if mode == "full":
            return _full(ostree, handle, sysroot, repo)
        return _prune(ostree, sysroot, repo)
    except glib_error as e:
        raise HelperError(str(getattr(e, "message", e))) from e
    finally:
        if locked:
            handle.unlock()


def _opt_in_to_remount(handle: Any) -> None:
    """Let libostree remount /sysroot and /boot read-write itself where it writes them.

    libostree does that only on a booted system, and only once told that the process has a
    mount namespace of its own; /boot, which the helper leaves to it, may be read-only too.
    The namespace is the helper's own (private, so nothing propagates back), entered here if
    no remount entered it yet. Not initialize_with_mount_namespace: it would only add an
    unshare that is done already, after reading /proc/1/ns/mnt, which ProtectProc= hides.
    """
    from . import remount

    try:
        remount.enter_private_namespace()
    except remount.RemountError as e:
        raise HelperError(
            f"cannot make the read-only sysroot writable: {e.strerror}",
            "the cleanup service needs the mount namespace and mount(2)",
        ) from e
    handle.set_mount_namespace_in_use()


def _full(ostree: Any, handle: Any, sysroot: str, repo: str) -> Freed:
    """ostree_sysroot_cleanup, in its two documented halves.

    ostree_sysroot_cleanup is ostree_sysroot_prepare_cleanup (old deployments, boot
    directories, deployment refs) followed by a refs-only, depth-0 prune of the repo. Run as
    two calls, the prune puts unreachable commits first and reports what it freed, which
    ostree_sysroot_cleanup does not (counting the repo before and after instead costs about a
    tenth of the whole cleanup on a 50,000-object repo).
    """
    # Loading reads every deployment; on a booted system this needs CAP_SYS_PTRACE (libostree
    # compares mount namespaces through /proc/1/ns/mnt).
    handle.load(None)
    check_before_prune(sysroot, repo, refs_only=False)
    handle.prepare_cleanup(None)
    _ok, repo_handle = handle.get_repo(None)
    if not check_before_prune(sysroot, repo, refs_only=False):
        # Some deployment is still not held by a ref: only libostree's own cleanup, which also
        # walks the deployments' commits, may prune. Count the repo before and after.
        log.warning("a deployment is not held by a ref after preparing; using ostree's cleanup")
        before = object_sizes(repo)
        handle.cleanup(None)
        objects, nbytes = freed_since(repo, before)
        return Freed(objects, nbytes, NAME)
    return _prune_repo(ostree, repo_handle)


def _prune_commits(ostree: Any, repo_handle: Any) -> tuple[int, int]:
    """Delete the unreachable commit objects alone, before any other object.

    libostree prunes objects in hash order; killed half-way, it can leave a commit whose trees
    are gone, which `ostree fsck` reports as corruption. With the commits gone first, a kill at
    any later point leaves only unreferenced objects, which fsck ignores and the next run
    removes.
    """
    flags = ostree.RepoPruneFlags.REFS_ONLY | ostree.RepoPruneFlags.COMMIT_ONLY
    _ok, _total, pruned, size = repo_handle.prune(flags, 0, None)
    return (int(pruned), int(size))


def _prune(ostree: Any, sysroot: str, repo: str) -> Freed:
    check_before_prune(sysroot, repo, refs_only=True)
    from gi.repository import Gio

    handle = ostree.Repo.new(Gio.File.new_for_path(repo))
    handle.open(None)
    return _prune_repo(ostree, handle)


def _prune_repo(ostree: Any, repo_handle: Any) -> Freed:
    commits, commit_bytes = _prune_commits(ostree, repo_handle)
    # Depth 0 as `ostree admin cleanup` does: a deployment's commit keeps its parent commits'
    # objects only when a ref names them, so superseded history becomes prunable.
    flags = ostree.RepoPruneFlags.REFS_ONLY
    _ok, total, pruned, size = repo_handle.prune(flags, 0, None)
    log.debug(f"prune: {commits} commits, then {pruned} of {total} objects unreachable")
    return Freed(commits + int(pruned), commit_bytes + int(size), NAME)
