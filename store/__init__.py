"""Persistence: typed models, the engine for SpatiaLite or PostGIS, queries and writes."""
