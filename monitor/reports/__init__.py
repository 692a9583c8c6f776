"""Periodic reports: the numbers from the run history (`build`), the chart (`chart`), when each is due and
queued exactly once (`schedule`). How a report looks in Slack is monitor.slack.report."""
