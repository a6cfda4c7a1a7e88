"""The Northflank API layer: HTTP, retries, decoding, routes, bodies, models, rate limits,
the log tail. It knows nothing of inputs, the engine, GitHub or the CLI."""
