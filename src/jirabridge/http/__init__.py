"""The resilient HTTP core shared by the Jira and GitHub clients.

Bottom layer: imports nothing from the rest of Jirabridge but :mod:`jirabridge.errors`.
"""

from jirabridge.http.client import HttpClient, Reconcile

__all__ = ["HttpClient", "Reconcile"]
