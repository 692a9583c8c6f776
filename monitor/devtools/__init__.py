"""Developer tooling, not the product: the stand-ins the tests, benchmarks and `make demo` run against.

    sim/         the Huawei Cloud Workspace API simulator (`workspace-monitor simulate`)
    slackstub/   the Slack stand-in: Web API, Socket Mode and response_url on loopback
    demo/        `workspace-monitor demo` (`make demo`): the scripted tour and the daemon's story

Nothing in the product imports this package; only the CLI's `simulate` and `demo` commands load it, lazily.
"""
