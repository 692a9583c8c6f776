"""workspace-monitor: alerting daemon and Slack chatops bot for Huawei Cloud Workspace scheduled tasks."""

__version__ = "0.1.0"
