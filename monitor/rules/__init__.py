"""Alert rules: the rule file format, strict loading with `file:line: problem` errors, and matching.

The package, by dependency order (each module imports only those above it):

    patterns.py  task name patterns (globs, RE2 `re:` expressions), their literal prefixes, RegexScreen
    runbook.py   `runbook_url` templates: checked at load, rendered with URL-escaped task fields
    matcher.py   MATCH_KEYS, the one table of match keys everything else derives from; TaskMatcher (a
                 compiled `match:`) and TaskSignature
    model.py     Rule, MatchedRoute, Location: the compiled rules
    index.py     RuleSet, its candidate index, and `match`
    schema.py    the file format as pydantic models, and the JSON Schema derived from them
    load.py      reading files and directories, `file:line: problem` errors, `compile_match`

As Alertmanager's config: `load_rules_text(text, filename)` parses and validates one file, `load_rules(path)`
only reads a file (or a directory's `*.yaml` and `*.yml`, sorted) and hands the text over. Loading is strict
and reports every problem at once in one `RuleFileError`, each at the line of the offending key or value:
unknown keys, wrong types, bad durations, regexes, channels and mentions, duplicate rule names (across files
too), and rules that can never match (an unknown enum value, `last_status: SUCCESS`, an empty list,
`min > max`, a rule shadowed by an earlier catch-all without `continue: true`).

The rule file (its JSON Schema is `schema.rule_file_json_schema()`; `rules/example.yaml` shows every key):

    rules:
      - name: prod-reboots              # unique across all files: letters, digits, - _ .
        match:                          # every key must match; a list means any of; no match = every task
          last_status: [FAIL, SKIP]     # FAIL | SKIP (SUCCESS never alerts: see notify_resolved)
          task_type: REBOOT             # START STOP REBOOT HIBERNATE REBUILD EXECUTE_SCRIPT CREATE_SNAPSHOT
                                        # DELETE_BLACK_ECS
          scheduled_type: DAY           # FIXED_TIME DAY WEEK MONTH LIFE_CYCLE
          life_cycle_type: POST_DESKTOP_DISCONNECTED    # only with LIFE_CYCLE tasks
          task_name: "prod-*"           # glob (case-sensitive), or "re:<regex>" matching the whole name
          id: 2b31e-d520...             # task ids
          enable: true                  # disabled tasks never alert, so `false` is refused
          priority: {min: 1, max: 5}    # a number, {min, max} (either may be left out), or a list of those
          project: 0123456789abcdef...  # project ids
        channel: "#desktop-ops"         # "#name" or a channel id; absent = slack.default_channel
        severity: critical              # critical | warning (default) | info
        repeat_interval: 4h             # reminder while still failing (default 4h); 0 = never
        notify_resolved: true           # announce recoveries in the thread (default true); broadcast:
                                        # also in the channel
        runbook_url: "https://wiki/rb/{task_type}?id={task_id}"   # a button; fields URL-escaped
        continue: false                 # first match wins unless continue: true
        group_by: [task_type]           # task fields that split a channel's digest
        mention: "<!subteam^S123>"      # added to NEW alerts: <!subteam^ID>, <@U0123>, <!here>, @name
        min_failures: 1                 # alert after N consecutive failing executions (default 1)
    silences:
      - match: {task_name: "lab-*"}     # the same match keys; at least one
        rule: [prod-reboots]            # optional: only these rules' alerts
        until: 2026-12-31T00:00:00Z     # ISO 8601 with a zone
        comment: lab desktops are rebuilt by hand

Matching (`index.match(ruleset, task, project)`) is pure and indexed: a rule's signature keys (project,
last_status, task_type, scheduled_type, life_cycle_type, enable: `Indexed.SIGNATURE` in the table) are
evaluated once per distinct combination of those task fields, which a fleet has few of, so each task only
runs the remaining name/id/priority checks of the rules that survive, in file order.
"""
