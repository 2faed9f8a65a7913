"""Graph transforms on ONNX models (FP16 conversion, constant folding). onnx only."""
