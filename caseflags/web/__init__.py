"""The officers' web application (`caseflags web`, docs/WEB.md): it reads the nightly's snapshot
(caseflags.outputs.snapshot) and saves to the workspace database (caseflags.workspace)."""
