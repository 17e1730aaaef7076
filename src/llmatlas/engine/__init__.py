"""The evaluation engine: runner, journal (SQLite, WAL), results schema and statistics."""
