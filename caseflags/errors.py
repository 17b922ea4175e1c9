"""Failures the command line reports as one line with exit status 2."""


class RunAborted(Exception):
    """The run could not start or go on (no extracts, nothing loadable); one-line reason."""
