"""Alembic migrations of the ledger (run with `rpm-scrubber db upgrade`; see scrubber.store)."""
