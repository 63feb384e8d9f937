"""The HTTP API (SPEC.md 3): `make_app(ServiceConfig(...))`, served with `ServiceRunner`."""

from lookup.web.app import ServiceConfig, ServiceRunner, make_app

__all__ = ("ServiceConfig", "ServiceRunner", "make_app")
