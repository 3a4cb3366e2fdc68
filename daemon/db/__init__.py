"""The store. Importing any part loads every table, so metadata is always complete."""

from daemon.db import calendar_tables, tables

__all__ = ["calendar_tables", "tables"]
