"""Helpers for the end-to-end browser test: a throwaway JupyterLab and headless Chromium."""
