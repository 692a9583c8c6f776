"""`workspace-monitor demo` (`make demo`).

tour.py    the scripted tour: the real client against the simulator, then the daemon's story
story.py   the real `workspace-monitor run` as a child process, living an alerting story
feed.py    what arrives at the Slack stand-in, rendered for the terminal
setup.py   which Slack, and the config, rules and environment the daemon is started with
"""
