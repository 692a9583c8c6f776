"""Every test helper in one place: plain functions and classes, and the few fixtures a test module imports by
name (pg.py's, which tests/conftest.py registers for all; stores.py's `backend` and `store`).

simapi.py       calling the Workspace simulator by hand: small options, signed headers, a raw caller
pg.py           PostgreSQL on 127.0.0.1:5432: the server fixture and one fresh schema per test
stores.py       the store backends as tests see them (both backends under one fixture), sample values
world.py        an in-process world on one clock: simulator, Slack stand-in, store, engine, dispatcher
slack.py        sample alert payloads and the checks every rendered Slack message must pass
daemon.py       `workspace-monitor run` as a child process, the config it starts with, a small simulator
replicas.py     several daemons sharing one PostgreSQL state (the HA tests and bench/ha.py)
tcp_proxy.py    a loopback TCP proxy a test can cut and restore
secret_scan.py  the scan that fails any test whose output carries a known secret
"""
