"""Sprint reports: committed vs completed, scope change, velocity, burndown, cycle time.

``history`` rebuilds issue pasts from changelogs, ``engine`` computes every number (pure),
``source`` loads and caches board data from Jira, ``service`` ties them into one report and
``formats`` turns a report into JSON, CSV or a text table. Definitions: docs/reports.md.
"""
