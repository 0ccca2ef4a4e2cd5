"""Core: configuration, Spark session, Delta lake, table catalog, run ledger, privacy, tracking, errors."""
