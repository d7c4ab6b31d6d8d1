"""``jirabridge keys`` and ``jirabridge triage``: offline helpers for linking and bug triage.

``keys explain`` shows which issue keys a text holds and why each candidate was kept or
dropped; ``triage check`` validates a rules file; ``triage dry-run`` shows what the rules would
do to a GitHub ``issues`` or Jira ``issue_created`` webhook payload. None of them writes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["keys_explain", "register", "triage_check", "triage_dry_run"]

keys_app = typer.Typer(help="Jira issue keys in free text.", no_args_is_help=True)
triage_app = typer.Typer(help="Bug-triage rules.", no_args_is_help=True)


@keys_app.command("explain")
def keys_explain(
    text: Annotated[str, typer.Argument(help="PR title, branch name, commit message...")],
    project: Annotated[
        list[str] | None, typer.Option("--project", "-p", help="Allowed project key (repeat).")
    ] = None,
    deny: Annotated[
        list[str] | None, typer.Option(help="Extra prefix that is never a project (repeat).")
    ] = None,
) -> None:
    """Show every key-shaped token in TEXT and the decision taken on it."""
    from jirabridge.jira.keys import DEFAULT_DENIED_PREFIXES, explain_keys

    denied = set(DEFAULT_DENIED_PREFIXES) | {d.upper() for d in deny or []}
    candidates = explain_keys(text, projects=project or None, denied_prefixes=denied)
    if not candidates:
        typer.echo("no key-shaped text found")
        return
    for c in candidates:
        mark = "✔" if c.accepted else "✘"
        typer.echo(f"{mark} {c.text} (at {c.start}-{c.end}): {c.decision.value}")


@triage_app.command("check")
def triage_check(rules: Annotated[Path, typer.Argument(help="The rules YAML file.")]) -> None:
    """Validate a rules file; problems are listed with their line numbers."""
    from jirabridge.sync.triage import TriageRulesError, load_rules

    try:
        loaded = load_rules(rules.read_text(encoding="utf-8"))
    except TriageRulesError as exc:
        for line, message in exc.problems:
            typer.echo(f"{rules}:{line}: {message}", err=True)
        raise typer.Exit(1) from None
    except OSError as exc:
        typer.echo(f"cannot read {rules}: {exc.strerror}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{len(loaded.rules)} rules, {len(loaded.teams)} teams: OK")


@triage_app.command("dry-run")
def triage_dry_run(
    rules: Annotated[Path, typer.Argument(help="The rules YAML file.")],
    event: Annotated[Path, typer.Argument(help="A GitHub issues or Jira issue_created payload.")],
    label: Annotated[
        str | None, typer.Option(help="Only GitHub issues with this label are bugs.")
    ] = None,
) -> None:
    """Show what each rule would do to the bug in EVENT (nothing is written)."""
    from jirabridge.sync.triage import (
        TriageRulesError,
        bug_from_github_issue,
        bug_from_jira_issue,
        load_rules,
        plan_triage,
    )

    try:
        loaded = load_rules(rules.read_text(encoding="utf-8"))
        payload = json.loads(event.read_text(encoding="utf-8"))
    except TriageRulesError as exc:
        for line, message in exc.problems:
            typer.echo(f"{rules}:{line}: {message}", err=True)
        raise typer.Exit(1) from None
    except (OSError, json.JSONDecodeError) as exc:
        typer.echo(f"cannot read the input: {exc}", err=True)
        raise typer.Exit(1) from None
    if "webhookEvent" in payload:
        bug = bug_from_jira_issue(payload)
    else:
        bug = bug_from_github_issue(payload, label=label)
    if bug is None:
        typer.echo("the event is not a new bug: nothing to triage")
        return
    typer.echo(plan_triage(bug, loaded, {}).describe())


def register(app: typer.Typer) -> None:
    """Add ``keys`` and ``triage`` to the root CLI."""
    app.add_typer(keys_app, name="keys")
    app.add_typer(triage_app, name="triage")
