"""Failures as an operator sees them: one line naming the path, exit 2 for every foreseen one.

Used by every `caseflags` command (caseflags/cli.py): wrap a command's body in
`with foreseen_failures():` and report a refusal with `fail("...")`. A foreseen failure (bad
configuration, wrong path, store locked, disk full, read-only folder, a refused import) is one
line and exit 2; anything else is one line and exit 1. The traceback is printed first only in
debug mode (`caseflags --debug`, or CASEFLAGS_DEBUG=1).
"""

from __future__ import annotations

import errno
import os
import sys
import tempfile
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import click
import duckdb
import typer

from caseflags.audit.model import AuditImportError, SampleError
from caseflags.config import ConfigError
from caseflags.errors import RunAborted
from caseflags.outputs.review_import import ReviewImportError
from caseflags.store.database import StoreError
from caseflags.store.locking import StoreLocked

debug = {"on": os.environ.get("CASEFLAGS_DEBUG", "") not in ("", "0")}


def fail(message: str, code: int = 2) -> NoReturn:
    # Plain text on one line: schedulers and log scrapers read it, so no wrapping or markup.
    typer.echo(f"caseflags: {' '.join(str(message).split())}", err=True)
    raise typer.Exit(code=code)


def fail_each(problems: list[str], code: int = 2) -> NoReturn:
    """Several refusals found at once (a manifest, a config): one plain line each, then exit."""
    for problem in problems:
        typer.echo(f"caseflags: {' '.join(str(problem).split())}", err=True)
    raise typer.Exit(code=code)


# What a failed system call means to an operator, by errno.
_OS_REASONS = {
    errno.ENOSPC: "no space left on the disk",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "the folder is on a read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EISDIR: "is a folder, not a file",
    errno.ENOTDIR: "a part of the path is not a folder",
    errno.ENOENT: "no such file or folder",
    errno.EFBIG: "file too large",
    errno.EIO: "input/output error",
}


def _os_failure(exc: OSError) -> str | None:
    reason = _OS_REASONS.get(exc.errno)
    if reason is None:
        return None
    where = exc.filename if exc.filename is not None else "(path not given by the system)"
    also = f" / {exc.filename2}" if getattr(exc, "filename2", None) else ""
    return f"cannot write or read {where}{also}: {reason}"


def _duckdb_failure(exc: duckdb.Error) -> str | None:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "No space left on device" in str(exc):
        return f"the store could not be written: no space left on the disk ({text})"
    if isinstance(exc, (duckdb.IOException, duckdb.PermissionException)) or "Read-only file system" in str(exc):
        return f"the store could not be opened or written: {text}"
    if isinstance(exc, duckdb.OutOfMemoryException):
        return (
            f"DuckDB ran out of memory within its limit ({text}): raise [limits] memory_limit_mib in the "
            "configuration (0: DuckDB's own default)"
        )
    return None


@contextmanager
def foreseen_failures() -> Iterator[None]:
    """Every foreseen failure as one line and exit 2; anything else one line and exit 1.
    The traceback is printed first only with --debug."""
    try:
        yield
    except (typer.Exit, typer.Abort, click.exceptions.ClickException):
        raise
    except ConfigError as exc:
        _debug_traceback()
        for problem in exc.problems:
            typer.echo(f"caseflags: {' '.join(problem.split())}", err=True)
        raise typer.Exit(code=2) from None
    except (StoreLocked, StoreError, RunAborted, ReviewImportError, AuditImportError, SampleError) as exc:
        _debug_traceback()
        fail(str(exc))
    except OSError as exc:
        _debug_traceback()
        message = _os_failure(exc)
        fail(message) if message else fail(f"unexpected error ({type(exc).__name__}: {exc}); rerun with --debug", 1)
    except duckdb.Error as exc:
        _debug_traceback()
        message = _duckdb_failure(exc)
        fail(message) if message else fail(
            f"unexpected store error ({type(exc).__name__}: {exc}); rerun with --debug", 1
        )
    except Exception as exc:  # noqa: BLE001 (the last resort: still one line, traceback on --debug)
        _debug_traceback()
        cause = _os_error_in_chain(exc)  # a library wrapping a failed write (e.g. xlsxwriter)
        if cause is not None and _os_failure(cause):
            fail(_os_failure(cause))
        fail(f"unexpected error ({type(exc).__name__}: {exc}); rerun with --debug for the traceback", 1)


def _os_error_in_chain(exc: BaseException) -> OSError | None:
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, OSError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def _debug_traceback() -> None:
    if debug["on"]:
        traceback.print_exc(file=sys.stderr)


def check_writable_folder(folder: Path, what: str) -> None:
    """Refuse, before anything is loaded, a folder the run could not write into."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        fail(f"{what} {folder} cannot be created: {existing} is a file")
    try:
        fd, probe = tempfile.mkstemp(prefix=".caseflags-write-check-", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        fail(f"{what} {folder} is not writable ({_OS_REASONS.get(exc.errno, exc.strerror)})")
