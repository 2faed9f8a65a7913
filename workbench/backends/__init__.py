"""Runners and TensorRT. backends/ort.py alone imports onnxruntime; backends/trt/ alone
imports tensorrt, tensorrt_rtx and pycuda."""
