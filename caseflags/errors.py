"""Failures the command line reports as one line with exit status 2."""


class RunAborted(Exception):
    """The run could not start or go on (no extracts, nothing loadable); one-line reason."""


class RunFailed(RunAborted):
    """A stage failed outside reading (store, checks, outputs): the run row is marked FAILED and
    the command line prints one line and exits 2 (a RunAborted, so it is caught the same way)."""
