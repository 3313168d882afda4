"""Jobs at the edge: they own their sessions and call store queries, analytics and writes."""
