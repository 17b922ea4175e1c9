"""caseflags: nightly multi-agency checks for children who are Child in Need with an EHCP."""

__version__ = "0.1.0"
