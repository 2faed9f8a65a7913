"""Precision work on CPU: FP16/BF16 against FP32 (compare.py), per-layer drift
(layerwise.py), the keep-list search and the subset search it shares with INT8, the mask fix,
the FP32 reference check and the comparison cache.
"""
