"""The package version, in the kernel so any ring can name it without importing the root."""

__version__ = "0.1.0"
