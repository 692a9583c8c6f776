"""Fuzz tests (hypothesis). Example counts come from the profile (tests/conftest.py): ~100 per target by
default, ~2,000 with HYPOTHESIS_PROFILE=ci, capped per target where one example is slow so that each file
stays around 20 s on a 2-core box."""

from __future__ import annotations

from typing import Any

from hypothesis import settings

__all__ = ["examples"]


def examples(ci_cap: int, **other: Any) -> settings:
    """The profile's example count, but at most `ci_cap` (the count a slow target gets in CI); `other`
    settings as hypothesis takes them."""
    return settings(max_examples=min(settings.default.max_examples, ci_cap), **other)
