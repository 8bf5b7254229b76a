"""The ner stage of the marsad pipeline."""
