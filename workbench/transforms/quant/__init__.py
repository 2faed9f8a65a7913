"""Q/DQ graphs: the TensorRT quantization preset, and int32 biases folded to float.
"""
