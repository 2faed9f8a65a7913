"""Findings drawn on the graph: overlay records per kind (parse, FP16/BF16/INT8 error,
keep lists, engine fusion), the neighbourhood pictures, the session's overlay entry point.
"""
