"""The simulator's own error: an answer in Jira's ``{"errorMessages": [...], "errors": {...}}``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from jirabridge.errors import JirabridgeError

__all__ = ["SimConformanceError", "SimHTTPError", "jira_error_body"]


def jira_error_body(
    messages: Sequence[str] = (), errors: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Jira's error shape; both keys are always present, as Jira sends them."""
    return {"errorMessages": list(messages), "errors": dict(errors or {})}


class SimHTTPError(JirabridgeError):
    """Raised inside the simulator to answer with an HTTP error in Jira's shape.

    It never leaves the simulator: the app turns it into a response.
    """

    def __init__(
        self,
        status: int,
        messages: Sequence[str] = (),
        errors: Mapping[str, str] | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        text = "; ".join([*messages, *(f"{k}: {v}" for k, v in (errors or {}).items())])
        super().__init__(text or f"HTTP {status}")
        self.http_status = status
        self.status = status
        self.messages = list(messages)
        self.errors = dict(errors or {})
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        """The JSON body Jira would send."""
        return jira_error_body(self.messages, self.errors)


class SimConformanceError(JirabridgeError):
    """The simulator accepted a request or produced a response that breaks Atlassian's spec.

    Raised only with ``SimConfig(validate=True)``, so tests fail loudly instead of the
    simulator drifting from the contract.
    """

    code = "sim-conformance"
