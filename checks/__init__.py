"""The check catalogue: `<CHECK_ID>.toml` beside `<CHECK_ID>.sql` (package data of `caseflags.catalogue`)."""
