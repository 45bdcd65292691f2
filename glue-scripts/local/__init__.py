"""Local-only helpers (tests, the local pipeline, the benchmark); never shipped to Glue."""
