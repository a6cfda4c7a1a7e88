"""The engine: one run (start or adopt, wait, logs, abort), returned as values."""
