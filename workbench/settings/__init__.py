"""What to build and how (pure Python): the settings schema and its choices (fields.py),
BuildSettings, shape profiles and their seeding, what a TensorRT offers (features.py), the
build plan, and its renderings as a trtexec line or a Python script (and back).
"""
