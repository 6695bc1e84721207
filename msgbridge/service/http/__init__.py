"""The HTTP API of ``msgbridge serve``: :func:`create_app` builds it over a running Gateway."""

from msgbridge.service.http.app import create_app

__all__ = ["create_app"]
