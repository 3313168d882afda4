"""Pure, vectorised analytics: no Dash, no database sessions."""
