"""`@handle` and `"#name"` entries of slack.admins / slack.allowed_channels looked up to ids through the Slack
stand-in's users.list and conversations.list (paged with Slack's cursor, scopes checked as Slack does)."""

from __future__ import annotations

from monitor.chatops.names import PAGE, resolve_names
from monitor.devtools.slackstub import SlackStubOptions, start_slack_stub
from monitor.devtools.slackstub.options import DEFAULT_SCOPES

WITH_USERS_READ = DEFAULT_SCOPES | {"users:read"}


async def test_handles_and_channel_names_become_ids() -> None:
    users = {f"U0MEMBER{index:04d}": f"member-{index}" for index in range(2 * PAGE + 50)}
    users |= {"U0DEMOALICE": "alice", "U0TWIN0001": "twin", "U0TWIN0002": "twin"}
    options = SlackStubOptions(scopes=WITH_USERS_READ, users=users)
    async with start_slack_stub(options) as stub:
        stub.state.add_channel("secret-ops", "G0SECRETOPS", member=True, private=True)
        found = await resolve_names(
            stub.client(),
            ["U0ADMIN001", "@alice", f"@member-{2 * PAGE + 10}", "@twin", "@nobody"],
            ["C0OTHER001", "#desktop-ops", "#secret-ops", "#no-such-room"],
        )
        listed = [call.method for call in stub.state.calls]
    assert found.users == {"U0DEMOALICE", f"U0MEMBER{2 * PAGE + 10:04d}"}  # ids are left to Access.of
    assert found.channels == {"C0DESKOPS01", "G0SECRETOPS"}
    assert found.problems == [
        "@twin names 2 members (U0TWIN0001, U0TWIN0002): use the id",
        "no member is named @nobody: it grants nothing (use the id)",
        "no channel is named #no-such-room: it grants nothing (use the id)",
    ]
    assert listed.count("users.list") == 3  # 200 a page, with the cursor


async def test_without_users_read_handles_are_not_looked_up_and_the_scope_is_named() -> None:
    async with start_slack_stub() as stub:  # the manifest's scopes: no users:read
        found = await resolve_names(stub.client(), ["@alice"], ["#desktop-ops"])
    assert found.users == frozenset()
    assert found.channels == {"C0DESKOPS01"}
    assert found.problems == ["@alice not looked up: users.list answered missing_scope: add the users:read "
                              "scope to the app"]  # fmt: skip


async def test_nothing_is_asked_of_slack_without_names() -> None:
    async with start_slack_stub() as stub:
        found = await resolve_names(stub.client(), ["U0ADMIN001"], ["C0DESKOPS01"])
        assert stub.state.calls == []
    assert (found.users, found.channels, found.problems) == (frozenset(), frozenset(), [])
