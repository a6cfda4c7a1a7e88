"""Start a Northflank build for the commit under test, wait for it, and report it."""

__version__ = "0.1.0"
