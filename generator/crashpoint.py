"""A test hook that kills the process at the Nth durable step of an install or uninstall.

Crash safety is only believable when it is tested at every point where the tree changes. With
``OSTREE_AUTOCLEANUP_TEST_CRASH_AFTER=N`` in the environment, the Nth call of :func:`reached`
sends SIGKILL to the process itself: no cleanup handler, no flush, the same as a power cut for
everything that was not fsynced yet. Without the variable the hook costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

ENVIRONMENT_VARIABLE = "OSTREE_AUTOCLEANUP_TEST_CRASH_AFTER"

_steps_taken = 0


def reached() -> None:
    """Mark one durable step; die here when the test hook says so."""
    global _steps_taken
    limit = os.environ.get(ENVIRONMENT_VARIABLE)
    if limit is None:
        return
    _steps_taken += 1
    if str(_steps_taken) == limit.strip():
        os.kill(os.getpid(), signal.SIGKILL)
