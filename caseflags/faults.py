"""Fault injection for the crash-safety tests: the process kills itself (SIGKILL, no cleanup) at
the named point, or (`CASEFLAGS_FAULT_AT=disk-full:<point>`) fails there as a full disk would
(OSError ENOSPC). Unset in normal operation."""

import errno
import os
import signal

FAULT_ENV = "CASEFLAGS_FAULT_AT"
DISK_FULL = "disk-full:"


def fault_point(name: str) -> None:
    fault = os.environ.get(FAULT_ENV)
    if fault == name:
        os.kill(os.getpid(), signal.SIGKILL)
    if fault == DISK_FULL + name:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
