"""Assembles the aiohttp application: the API routes, the control routes, then the catch-all fallbacks."""

from __future__ import annotations

from aiohttp import web

from monitor.devtools.sim.control import add_control_routes
from monitor.devtools.sim.server import STATE_KEY, add_api_routes, add_fallback_routes
from monitor.devtools.sim.state import SimState

__all__ = ["build_app"]


def build_app(state: SimState) -> web.Application:
    app = web.Application()
    app[STATE_KEY] = state
    add_api_routes(app)
    add_control_routes(app)
    add_fallback_routes(app)
    return app
