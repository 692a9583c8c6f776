"""`python -m monitor ...` is `workspace-monitor ...`: the CLI from a checkout without the console script
(`PYTHONPATH=$PWD python -m monitor demo` runs that tree's code, not the installed one's)."""

from __future__ import annotations

if __name__ == "__main__":
    from monitor.cli import main

    raise SystemExit(main())
