"""The action ids of the buttons on alert messages, shared by the renderers and chatops' listeners."""

from __future__ import annotations

__all__ = [
    "ACK_ACTION_ID",
    "RETRY_ACTION_ID",
    "RUNBOOK_ACTION_ID",
    "SCRIPT_OUTPUT_ACTION_ID",
    "SILENCE_1H_ACTION_ID",
    "SILENCE_CUSTOM_CALLBACK_ID",
    "SILENCE_MENU_ACTION_ID",
]

ACK_ACTION_ID = "alert_ack"
#: The Silence 1h button of messages posted before the Silence menu; still answered.
SILENCE_1H_ACTION_ID = "alert_silence_1h"
#: The Silence menu (a static_select; option value "<duration>|<fingerprint>", "custom|<fingerprint>").
SILENCE_MENU_ACTION_ID = "alert_silence_menu"
#: The modal the menu's "Custom…" opens (duration and reason); its private_metadata names the alert.
SILENCE_CUSTOM_CALLBACK_ID = "alert_silence_custom"
#: The Runbook link button: Slack opens the URL and still sends the app a block_actions, which is acked.
RUNBOOK_ACTION_ID = "alert_runbook"
#: "Full output" of a failed desktop's script (value: the script record id): opens a modal.
SCRIPT_OUTPUT_ACTION_ID = "alert_script_output"
#: "Retry failed desktops" (value: the alert fingerprint), with `slack.actions: [retry]` only.
RETRY_ACTION_ID = "alert_retry"
