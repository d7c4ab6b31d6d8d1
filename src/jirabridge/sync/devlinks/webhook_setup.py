"""Set up GitHub webhooks for a connection's repositories, or explain how to by hand.

Creating a hook needs admin rights on the repository (``admin:repo_hook``). Where GitHub says
no (403) or cannot see the repository (404), the result carries step-by-step instructions with
the URL and the generated secret instead, so the owner can add the hook in GitHub's settings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from jirabridge.errors import ApiNotFoundError, ForbiddenError
from jirabridge.github import GitHubClient

__all__ = ["WEBHOOK_EVENTS", "HookSetup", "set_up_webhooks"]

#: The events linking, Smart Commits and triage listen to.
WEBHOOK_EVENTS: tuple[str, ...] = ("pull_request", "push", "issues")


@dataclass(frozen=True, slots=True)
class HookSetup:
    """What happened for one repository: ``created`` (with the hook id) or ``manual``."""

    repo: str
    status: str
    hook_id: int | None = None
    # Holds the webhook secret: kept out of the repr so it never lands in a log.
    instructions: str | None = field(default=None, repr=False)


def _instructions(repo: str, url: str, secret: str) -> str:
    return (
        f"Add the webhook by hand: open https://github.com/{repo}/settings/hooks/new, set "
        f"Payload URL to {url}, Content type to application/json, Secret to {secret}, choose "
        f"'Let me select individual events' and tick {', '.join(WEBHOOK_EVENTS)}, then save."
    )


async def set_up_webhooks(
    github: GitHubClient, repos: Sequence[str], *, url: str, secret: str
) -> list[HookSetup]:
    """Create (once) a hook on each repository, falling back to instructions per repository."""
    results: list[HookSetup] = []
    for repo in repos:
        try:
            hook = await github.create_hook(repo, url=url, secret=secret, events=WEBHOOK_EVENTS)
        except (ForbiddenError, ApiNotFoundError):
            results.append(HookSetup(repo, "manual", instructions=_instructions(repo, url, secret)))
            continue
        results.append(HookSetup(repo, "created", hook_id=hook.id))
    return results
