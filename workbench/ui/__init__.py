"""The Jupyter panel: the only package that imports ipywidgets or IPython."""
