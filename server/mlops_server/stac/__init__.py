"""STAC documents: the catalog, collections and the project -> item mapping."""
