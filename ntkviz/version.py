"""The package's version, in a module of its own so that any layer can read it without importing
the package (which would be an import that runs back up)."""

__version__ = "0.1.0"
