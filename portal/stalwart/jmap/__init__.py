"""Stalwart 0.16 and later: sign-in through `/api/auth`, management through JMAP `x:` objects.

`client.JmapClient` sends method calls to `POST /jmap/`; `backend.JmapBackend` gives views the
same area attributes (`principals`, ...) and typed results as `StalwartClient` does for the
REST generation.
"""
