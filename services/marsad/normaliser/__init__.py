"""The normaliser stage of the marsad pipeline."""
