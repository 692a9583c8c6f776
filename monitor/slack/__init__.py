"""The Slack receiver: alert payloads (`monitor.notify.payload`) rendered as Block Kit and delivered with
threads, edits and digests; every Slack-specific module lives here.

    notifier   the receiver: outbox rows to chat.postMessage / chat.update, Slack's errors translated into
               the dispatcher's outcomes, pacing, and the crash reconcile (finding what was posted)
    alert      render_alert / render_update / render_thread_reply: the messages about one alert
    digest     render_digest: several alerts of one channel and group (more than one message only when
               Block Kit's limits demand it)
    meta       the meta-alert messages (selfwatch's alerts about the monitor itself)
    facts      a payload's values made safe to show (escaped and clipped, via `mrkdwn.user_text`)
    blocks     Block Kit builders that keep Slack's limits
    mrkdwn     escaping, clipping and the only mention that may ping (`mrkdwn.mention_text`)
    message    SlackMessage (post_kwargs, update_kwargs) and the metadata naming the alerts of a message
    check      Block Kit validation, for the tests of the renderers
    client     the slack_sdk clients, built without hidden retries
    actions    the action ids of the alert buttons (value = fingerprint), shared with chatops

Buttons (Acknowledge, Silence 1h) appear on firing alerts only.
"""
