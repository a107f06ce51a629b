"""Alembic migrations of Liasse's schema (one chain for SQLite and PostgreSQL)."""
