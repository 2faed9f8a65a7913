"""INT8 on TensorRT's Q/DQ path: quantize with ONNX Runtime (TensorRT preset), compare
INT8 against FP32 per tensor, and a minimal verified exclusion list.
"""
