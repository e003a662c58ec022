"""Output files: the format registry, the transaction that stages every write, the player."""
