"""One process of the two-process refresh race (run by test_oauth_tokens.py).

argv: database URL, token server base URL, connection id, number of concurrent calls.
Keys come from JIRABRIDGE_ENCRYPTION_KEYS. Prints one JSON line with the tokens it got.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

from jirabridge.service.atlassian_oauth import AtlassianOAuth, OAuthAppConfig
from jirabridge.service.oauth_tokens import OAuthTokenManager
from jirabridge.store.connection_secrets import ConnectionSecrets
from jirabridge.store.db import make_engine, session_factory
from jirabridge.store.secrets import SecretBox


async def main(db_url: str, base: str, connection_id: str, calls: int) -> None:
    engine = make_engine(db_url)
    config = OAuthAppConfig(
        client_id=os.environ.get("RACE_CLIENT_ID", "fake-client-id"),
        client_secret=os.environ.get("RACE_CLIENT_SECRET", "fake-client-secret-value"),
        redirect_uri="http://127.0.0.1/callback",
        token_url=f"{base}/oauth/token",
        api_base=base,
    )
    manager = OAuthTokenManager(
        session_factory(engine),
        ConnectionSecrets(SecretBox.from_env()),
        AtlassianOAuth(config).refresh,
    )
    # Start line: both processes are imported and connected before either calls, so their
    # calls overlap (the fake token endpoint holds each refresh for a moment).
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    results = await asyncio.gather(
        *(manager.ensure_valid_token(connection_id) for _ in range(calls))
    )
    await engine.dispose()
    print(
        json.dumps(
            {
                "tokens": sorted({r.token for r in results}),
                "refreshes": manager.refresh_count,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
