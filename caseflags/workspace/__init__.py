"""The workspace: what officers save in the browser, and what the nightly carries from it.

- `database`: the workspace database (`<store>.web.sqlite`, SQLite in WAL mode), written by the web.
- `carry`: reviews, assignments and link decisions carried into the store by the nightly's own
  `carry` step (caseflags.runbook), before linkage; `workspace_marks`, what the run's results
  basis records of the workspace.
- `carry_audit`: audit samples, marks and outcomes carried the same way (and by `caseflags sample`).

The web imports this package; this package never imports the web.
"""
