"""Prefect flows and deployments only; the stages they run are in `caseflags.runbook`."""
