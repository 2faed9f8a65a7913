"""Comparison of outputs on plain NumPy arrays. Imports numpy only (matplotlib in plots)."""
