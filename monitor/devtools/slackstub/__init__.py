"""A Slack Web API stand-in: a real HTTP server on loopback for the tests, the demo and the benchmarks.

It speaks enough of the Web API for slack_sdk's `AsyncWebClient(token=..., base_url=stub.api_url)`:
auth.test, chat.postMessage, chat.update, chat.postEphemeral, conversations.history (with
`include_all_metadata` and cursor paging), conversations.replies and conversations.list (`types`, `limit`,
`cursor`), views.publish, views.open and views.update (Home tabs, modals, 3-second trigger_ids: `views`),
plus a response_url endpoint for slash commands (5 uses in 30 minutes), and Socket Mode
(`apps.connections.open` and a websocket speaking the envelope protocol, `socket`). It also plays the
person in front of Slack (`interact.AppDriver`): opening the app's Home tab, pressing buttons (a confirm
dialog first), submitting modals, sent to the app signed over HTTP or through Socket Mode.

It is unkind where Slack is: answers carry Slack's error codes; the token has scopes (default: the
manifest's) and a call without its scope answers `missing_scope` with `needed` and `provided`; blocks are
checked with slack_sdk's models; rate limits by tier and 1 message/s/channel (`rate_limits`, on unless
turned off); faults (429 with Retry-After, 5xx, dropped connections, delays, any error code, a call carried
out and then its connection reset or answered 500, and a down switch) are injected from Python or the
`/_stub/` control API. What was posted, edited and replied is kept as plain data for assertions.

Modules, one job each: `options` (settings, default token, scopes and channels), `faults` (fault kinds and
the plan), `state` (channels, messages, every change, inspection), `api` (the Web API methods), `scopes`
(the scope each method needs), `blockkit` (Block Kit as Slack checks it), `views` (Home tabs, modals,
triggers), `ratelimit` (tiers), `server` (HTTP, auth, scopes, limits, faults, the down switch), `control`
(`/_stub/`), `runner` (starting, stopping), `socket` (Socket Mode), `interact` (the person's client).
"""

from monitor.devtools.slackstub.faults import FaultPlan, StubFault
from monitor.devtools.slackstub.options import (
    DEFAULT_APP_TOKEN,
    DEFAULT_CHANNELS,
    DEFAULT_TOKEN,
    SlackStubOptions,
)
from monitor.devtools.slackstub.runner import SlackStub, SlackStubThread, start_slack_stub
from monitor.devtools.slackstub.socket import SocketHub
from monitor.devtools.slackstub.state import (
    MessageVersion,
    SlackError,
    StubCall,
    StubChannel,
    StubMessage,
    StubState,
)

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
