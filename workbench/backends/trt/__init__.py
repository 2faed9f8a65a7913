"""The TensorRT backend: the only package that imports tensorrt, tensorrt_rtx or pycuda."""
