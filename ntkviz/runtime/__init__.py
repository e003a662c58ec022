"""The run time: worker processes, thread budgets, signals and lifecycle, progress reporting."""
