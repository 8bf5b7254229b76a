"""The facts stage of the marsad pipeline."""
