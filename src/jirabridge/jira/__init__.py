"""The async Jira client (Cloud and Server/Data Center), its models and a sync facade.

::

    async with JiraClient.cloud("https://acme.atlassian.net", email=..., api_token=...) as jira:
        async for issue in jira.search("project = ACME ORDER BY created"):
            print(issue.key, issue.summary)
"""

from jirabridge.jira.client import ClientOptions, JiraClient
from jirabridge.jira.connection import ConnectionCheck, ConnectionVerdict
from jirabridge.jira.core import EXTERNAL_ID_PROPERTY
from jirabridge.jira.creation import IssueInput, ReconcilePolicy
from jirabridge.jira.dates import format_jira_datetime, parse_jira_datetime
from jirabridge.jira.models import (
    Board,
    BulkCreateItem,
    ChangelogEntry,
    Comment,
    CreatedIssue,
    CreateMetaField,
    DeploymentType,
    EntityProperty,
    Epic,
    FieldDefinition,
    Issue,
    IssueType,
    Project,
    RemoteLink,
    ServerInfo,
    Sprint,
    Status,
    Transition,
    User,
    Webhook,
    WebhookRegistration,
    Worklog,
    WorklogChange,
)
from jirabridge.jira.settings import AuthKind, JiraSettings
from jirabridge.jira.sync_client import SyncJiraClient
from jirabridge.jira.webhook_registry import WebhookSpec

__all__ = [
    "EXTERNAL_ID_PROPERTY",
    "AuthKind",
    "Board",
    "BulkCreateItem",
    "ChangelogEntry",
    "ClientOptions",
    "Comment",
    "ConnectionCheck",
    "ConnectionVerdict",
    "CreateMetaField",
    "CreatedIssue",
    "DeploymentType",
    "EntityProperty",
    "Epic",
    "FieldDefinition",
    "Issue",
    "IssueInput",
    "IssueType",
    "JiraClient",
    "JiraSettings",
    "Project",
    "ReconcilePolicy",
    "RemoteLink",
    "ServerInfo",
    "Sprint",
    "Status",
    "SyncJiraClient",
    "Transition",
    "User",
    "Webhook",
    "WebhookRegistration",
    "WebhookSpec",
    "Worklog",
    "WorklogChange",
    "format_jira_datetime",
    "parse_jira_datetime",
]
