"""Layout factories (no callbacks) and every component id."""
