"""Durable jobs: workflows, steps and per-site queues on DBOS Transact.

Every DBOS import in Jirabridge lives in this package. Higher layers declare work with
:mod:`jirabridge.jobs.registry`, name it with :func:`jirabridge.jobs.ids.workflow_id`, and
the service runs it with :class:`jirabridge.jobs.engine.JobEngine`. Importing this package
itself imports nothing heavy.
"""

__all__: list[str] = []
