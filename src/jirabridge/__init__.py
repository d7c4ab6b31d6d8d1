"""Jirabridge: a resilient async Jira and GitHub client, and a service that keeps your data and
Jira in step.

The library part (``jirabridge.http``, ``jirabridge.jira``, ``jirabridge.github``) installs light;
the service part needs the ``service`` extra.
"""

from jirabridge.errors import JirabridgeError

__version__ = "0.1.0"

__all__ = ["JirabridgeError", "__version__"]
