"""The action ids of the buttons on alert messages, shared by the renderers and chatops' listeners."""

from __future__ import annotations

__all__ = ["ACK_ACTION_ID", "RETRY_ACTION_ID", "SILENCE_1H_ACTION_ID"]

ACK_ACTION_ID = "alert_ack"
SILENCE_1H_ACTION_ID = "alert_silence_1h"
#: "Retry failed desktops" (value: the alert fingerprint), with `slack.actions: [retry]` only.
RETRY_ACTION_ID = "alert_retry"
