"""Notifications: the payload of an alert message, rendering it (console, Slack Block Kit), and delivery."""
