"""Getting data in: readers per format, partner mapping profiles, validation, batched ingest."""
