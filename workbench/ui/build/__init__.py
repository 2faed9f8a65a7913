"""The Build and Engines tabs and their parts: the settings form, the live log pane, the
engine explorer and its layer table.
"""
