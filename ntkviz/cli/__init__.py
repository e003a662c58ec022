"""The ntkviz command line (typer). Every typer- and click-specific line lives in this package.

Kept empty of imports: the console entry (:mod:`ntkviz.cli.console`) installs its signal handlers
before anything heavy loads."""
