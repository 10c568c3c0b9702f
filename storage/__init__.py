"""The DuckDB store: connections and locking, migrations, and one repository per aggregate."""
