"""The store. Importing `tables` loads every table (it imports `calendar_tables` too), so
metadata is always complete; the package itself imports nothing, so `status` can check
the schema version (schema_version.py) without loading SQLAlchemy."""
