"""Triage of a folder of models: one process per model (worker, zygote), the zoo report
and its HTML page.
"""
