"""Map layers: one module per layer (query, traces, export columns) and the registry."""
