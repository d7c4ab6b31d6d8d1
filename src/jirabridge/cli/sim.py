"""``jirabridge sim``: run the Jira simulator on loopback."""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["sim"]

_PROFILES = ("clean", "limited", "faulty")


def sim(
    port: int = typer.Option(8089, "--port", help="Port to listen on (0 picks a free one)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind (loopback)."),
    profile: str = typer.Option("clean", "--profile", help="clean | limited | faulty"),
    flavor: str = typer.Option("cloud", "--flavor", help="cloud | datacenter"),
    seed: int = typer.Option(1, "--seed", help="Seed for the sample data (same seed, same site)."),
    state: Path | None = typer.Option(None, "--state", help="Load at start, save on exit (JSON)."),
    user: str | None = typer.Option(
        None, "--user", help="EMAIL:TOKEN for the seeded admin (DC: USERNAME-or-EMAIL:PASSWORD)."
    ),
) -> None:
    """Run a simulated Jira Cloud or Data Center site, seeded with sample data."""
    import uvicorn

    from jirabridge.sim.app import SimConfig, create_sim_app
    from jirabridge.sim.server import bind_loopback

    if profile not in _PROFILES:
        raise typer.BadParameter(f"choose one of {', '.join(_PROFILES)}", param_hint="--profile")
    if flavor not in ("cloud", "datacenter"):
        raise typer.BadParameter("choose cloud or datacenter", param_hint="--flavor")
    email = token = None
    if user is not None:
        email, sep, token = user.partition(":")
        if not sep or not email or not token:
            raise typer.BadParameter("expected EMAIL:TOKEN", param_hint="--user")
    sock = bind_loopback(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    base_url = f"http://{bound_host}:{bound_port}"
    config = SimConfig(
        seed=seed,
        flavor=flavor,  # type: ignore[arg-type]
        profile=profile,
        admin_email=email,
        admin_token=token,
        base_url=base_url,
        state_file=state,
    )
    app = create_sim_app(config)
    runtime = app.state.sim
    typer.echo(f"Jira simulator ({flavor}, profile {profile}, seed {seed}) at {base_url}")
    typer.echo(f"  cloud id: {runtime.cloud_id}")
    if user is None:
        # Generated credentials are printed so a person can use them with curl right away.
        typer.echo(f"  login: {runtime.admin_email}  token: {runtime.admin_token}")
    else:
        typer.echo(f"  login: {runtime.admin_email}  token: (as given with --user)")
    typer.echo(f"  try: curl -u '{runtime.admin_email}:<token>' {base_url}/rest/api/2/myself")
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    server.run(sockets=[sock])
