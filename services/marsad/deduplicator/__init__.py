"""The deduplicator stage of the marsad pipeline."""
