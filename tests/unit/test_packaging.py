"""What the installed distribution says about itself: one version, the licence it ships."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import monitor


def test_the_version_has_one_source() -> None:
    """pyproject.toml reads it from monitor/__init__.py: the installed metadata and --version agree."""
    assert metadata.version("workspace-monitor") == monitor.__version__


def test_the_distribution_names_its_licence_and_ships_the_text() -> None:
    """PEP 639: an SPDX expression and the file; .ci/wheel-smoke finds the text in the built wheel."""
    dist = metadata.distribution("workspace-monitor")
    assert dist.metadata["License-Expression"] == "Apache-2.0"
    assert dist.metadata.get_all("License-File") == ["LICENSE"]
    licence = (Path(__file__).parents[2] / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License\n                           Version 2.0, January 2004" in licence
