"""jira layer."""
