"""A Slack Web API stand-in: a real HTTP server on loopback for the tests, the demo and the benchmarks.

It speaks enough of the Web API for slack_sdk's `AsyncWebClient(token=..., base_url=stub.api_url)`:
auth.test, chat.postMessage, chat.update, chat.postEphemeral, conversations.history (with
`include_all_metadata` and cursor paging) and conversations.replies, plus a response_url endpoint for slash
commands, and Socket Mode (`apps.connections.open` and a websocket speaking the envelope protocol, `socket`).
Answers carry Slack's error codes; blocks are validated as Slack would; faults (429 with
Retry-After, 5xx, dropped connections, delays, any error code, and a down switch) are injected from Python
or the `/_stub/` control API. What was posted, edited and replied is kept as plain data for assertions.

Modules, one job each: `options` (settings, default token and channels), `faults` (fault kinds and the
plan), `state` (channels, messages, every change, inspection), `api` (the Web API methods), `server` (HTTP,
auth, faults, the down switch), `control` (`/_stub/`), `runner` (starting and stopping).
"""

from monitor.slackstub.faults import FaultPlan, StubFault
from monitor.slackstub.options import DEFAULT_APP_TOKEN, DEFAULT_CHANNELS, DEFAULT_TOKEN, SlackStubOptions
from monitor.slackstub.runner import SlackStub, SlackStubThread, start_slack_stub
from monitor.slackstub.socket import SocketHub
from monitor.slackstub.state import MessageVersion, SlackError, StubCall, StubChannel, StubMessage, StubState

__all__ = [
    "DEFAULT_APP_TOKEN",
    "DEFAULT_CHANNELS",
    "DEFAULT_TOKEN",
    "FaultPlan",
    "MessageVersion",
    "SlackError",
    "SlackStub",
    "SlackStubOptions",
    "SlackStubThread",
    "SocketHub",
    "StubCall",
    "StubChannel",
    "StubFault",
    "StubMessage",
    "StubState",
    "start_slack_stub",
]
