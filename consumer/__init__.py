"""convstream: Genesys Cloud conversation events folded into a PostgreSQL conversation table."""

__all__ = ["__version__"]

__version__ = "0.1.0"
