"""GitHub: an async REST client on the shared HTTP core, its models, and webhook verification.

Import from here: ``from jirabridge.github import GitHubClient, verify_github_delivery``.
"""

from jirabridge.github.client import API_VERSION, DEFAULT_BASE_URL, GITHUB_HEADERS, GitHubClient
from jirabridge.github.models import (
    Comment,
    Commit,
    CommitAuthor,
    Contributor,
    GitRef,
    Hook,
    HookConfig,
    Issue,
    Label,
    PullRequest,
    RateLimit,
    RateLimitResource,
    User,
)
from jirabridge.github.pagination import Paginator
from jirabridge.github.webhooks import (
    GITHUB_SIGNATURE_HEADER,
    GitHubWebhookDelivery,
    github_signature,
    parse_github_delivery,
    verify_github_delivery,
    verify_github_signature,
)

__all__ = [
    "API_VERSION",
    "DEFAULT_BASE_URL",
    "GITHUB_HEADERS",
    "GITHUB_SIGNATURE_HEADER",
    "Comment",
    "Commit",
    "CommitAuthor",
    "Contributor",
    "GitHubClient",
    "GitHubWebhookDelivery",
    "GitRef",
    "Hook",
    "HookConfig",
    "Issue",
    "Label",
    "Paginator",
    "PullRequest",
    "RateLimit",
    "RateLimitResource",
    "User",
    "github_signature",
    "parse_github_delivery",
    "verify_github_delivery",
    "verify_github_signature",
]
