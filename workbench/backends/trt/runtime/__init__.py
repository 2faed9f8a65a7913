"""Running engines (a GPU): the deserialized engine, the runner, its I/O and pycuda
buffers. Nothing here runs without a GPU that the installed TensorRT supports.
"""
