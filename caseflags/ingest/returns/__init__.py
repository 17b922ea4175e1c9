"""ingest/returns."""
