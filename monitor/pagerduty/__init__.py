"""The PagerDuty receiver: alerts of rules with `pagerduty: true` escalate to the on-call (`notifier`)."""
