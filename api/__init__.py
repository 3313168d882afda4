"""Read-only HTTP APIs over the filtered layers: the export API and OGC API - Features."""
