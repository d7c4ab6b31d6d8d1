"""The web face: REST API, UI pages and webhook endpoints on top of :mod:`jirabridge.service`."""

from jirabridge.web.app import create_app

__all__ = ["create_app"]
