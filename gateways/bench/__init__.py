"""Measurements of Simpul against its own baselines (reusable by `make bench`)."""
