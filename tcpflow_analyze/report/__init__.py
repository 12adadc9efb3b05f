"""Reporters: the analysis as the contract's JSON document, or as tables.

``build_report`` makes the one JSON-shaped dict every reporter renders, so the
table and the JSON can never disagree.
"""
from .model import build_report

__all__ = ["build_report"]
