"""Placeholder: routes arrive with the sandbox work in progress."""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    """Register this module's routes."""
