"""The store's SQL: DDL, shared macros and queries (package data of `caseflags.sql`)."""
