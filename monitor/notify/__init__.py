"""Notifications, whatever receives them: the payload of an alert message (`payload`), the dispatcher that
delivers the outbox to a receiver (`dispatch`), and the plain text of the console (`text`, `console`).
Slack, the receiver with threads, edits and digests, is `monitor.slack`."""
