"""The Slack chatops app: `/tasks` commands and the buttons on alert messages.

commands   text -> Command (pure, total)            replies    data -> ephemeral Block Kit answers (pure)
access     who may change state                     snapshots  listings kept for the page buttons
handlers   Command + Caller + Deps -> answer        app        the slack-bolt AsyncApp (listeners)
service    Socket Mode / HTTP mode, link health     wiring     built for `run` and `check`
"""
