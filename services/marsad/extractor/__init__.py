"""The extractor stage of the marsad pipeline."""
