"""Subcommands of trt-workbench (not implemented yet)."""

from __future__ import annotations

import argparse

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this module's subcommands."""
