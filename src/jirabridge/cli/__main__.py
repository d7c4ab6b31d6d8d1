"""``python -m jirabridge.cli``."""

from jirabridge.cli.main import main

main()
