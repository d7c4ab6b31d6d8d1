"""A faithful local Jira Cloud / Data Center site (``jirabridge sim``).

Build the ASGI app with :func:`create_sim_app`; its runtime (site state, clock, event bus) is
``app.state.sim``. :func:`jirabridge.sim.server.running_sim` serves it on loopback in a thread.
"""

from jirabridge.sim.app import SimConfig, SimRuntime, create_sim_app
from jirabridge.sim.events import EventBus, SimEvent
from jirabridge.sim.seed import SeedSpec

__all__ = ["EventBus", "SeedSpec", "SimConfig", "SimEvent", "SimRuntime", "create_sim_app"]
