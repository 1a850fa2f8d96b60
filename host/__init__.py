"""The Python host: float64 reference, force loosening, metrics, best-known table, code files, CLI."""
