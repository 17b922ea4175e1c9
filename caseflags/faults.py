"""Fault injection for the crash-safety tests: the process kills itself (SIGKILL, no cleanup) at
the named point. Unset in normal operation."""

import os
import signal

FAULT_ENV = "CASEFLAGS_FAULT_AT"


def fault_point(name: str) -> None:
    if os.environ.get(FAULT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
