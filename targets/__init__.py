"""Backends (filled in by the targets issue)."""
