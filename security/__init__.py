"""Who may see what: viewers, roles, handling caveats and the single visibility filter."""
