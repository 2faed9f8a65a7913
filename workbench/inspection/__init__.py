"""Inspection of ONNX models. Imports onnx and numpy only."""
