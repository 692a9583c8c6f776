"""The Slack chatops app: `/tasks` commands and the buttons on alert messages.

commands   text -> Command (pure, total)           replies   data -> ephemeral Block Kit answers (pure)
access     who may change state                    handlers  Command + Caller + Deps -> answer (async)
app        the slack-bolt AsyncApp (listeners)     service   Socket Mode / HTTP mode / none, health
"""
