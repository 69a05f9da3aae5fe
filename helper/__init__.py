"""ostree-autocleanup-helper: the program the units run at shutdown (mark) and at boot (cleanup).

Standard library and libostree (PyGObject) only; nothing from the generator side, so that the
shutdown and boot paths stay cheap. The pieces:

- `mark` (mark.py): after `ostree admin finalize-staged` succeeded, write the stamp atomically
  and durably (stamp.py, atomic.py), with the time, the finalized deployment (read from the
  bootloader entries, deployments.py) and the attempts so far. Refuses while
  BOOT/ostree/finalize-failure.stamp exists. Marking the deployment a pending stamp already names keeps its attempt count; a new
  deployment starts at 0, so retries are limited per finalization.
- `cleanup` (cleanup.py): no stamp, nothing to do. Else, serialised with other cleanups of the
  same stamp (flock of its directory): raise the stamp's attempt count durably *before* the
  work, take the sysroot lock with a bounded wait (lock.py), refuse a repo that lacks the
  commit of a deployment or ref (a prune would then delete live objects), delete unreachable
  commit objects first (so a kill at any point leaves a repo that `ostree fsck` accepts), then
  `ostree_sysroot_cleanup` (mode full) or a refs-only, depth-0 prune of the repo opened
  directly (mode prune, no sysroot load, so no CAP_SYS_PTRACE on a booted system). Without
  PyGObject or the OSTree typelib, the same through the `ostree` command (backend_cli.py).
  Success removes the stamp; failure keeps it; after max-attempts the stamp is removed and an
  error says the helper gave up. The result goes to STATE_DIR/last-cleanup.json (state.py).
- A read-only sysroot (ostree's `sysroot.readonly`; remount.py): `mark` bind-remounts the
  stamp's mount read-write in a private mount namespace of its own whenever it is read-only
  (the finalize unit runs as root); `cleanup --sysroot-readonly` does the same for the stamp's
  and the repo's mounts before it touches anything, and tells libostree it may remount /boot.
  The system's mounts stay read-only; a filesystem that is itself read-only is left alone.
- `status` (status.py): the stamp, its attempts and the last result, as text or JSON.

Exit status: 0 done (or nothing to do), 1 the work failed, 2 bad usage. Log lines (log.py)
carry `<N>` syslog priorities when stderr is the journal, and are plain on a terminal. Only
synchronous GLib calls are used: every `*_async` call starts a worker thread that calls
sched_setattr, which the cleanup unit's seccomp filter forbids.
"""
