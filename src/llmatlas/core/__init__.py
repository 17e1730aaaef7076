"""Shared infrastructure every layer may use, and which imports no other llmatlas package:
errors, paths of the user directory, YAML parsing with line numbers, SQLite (WAL, transactions,
migrations), and number formatting."""
