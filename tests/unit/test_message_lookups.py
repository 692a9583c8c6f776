"""The lookups one cycle makes for its messages (one budget for desktops, script lists and outputs), and the
tail of a script's output that a message keeps."""

from __future__ import annotations

import pytest

from monitor.notify.lookups import (
    MAX_SCRIPT_OUTPUTS,
    OUTPUT_TAIL_CHARS,
    Wanted,
    output_tail,
    plan_lookups,
    plan_outputs,
)

POWER = [Wanted(f"p{i}", f"r{i}", script=False) for i in range(3)]
SCRIPTS = [Wanted(f"s{i}", f"q{i}", script=True) for i in range(3)]


@pytest.mark.parametrize(
    ("wanted", "budget", "details", "scripts", "spare"),
    [
        pytest.param(POWER, 50, ["p0", "p1", "p2"], [], 47, id="power tasks: desktops only"),
        pytest.param(
            SCRIPTS, 50, ["s0", "s1", "s2"], ["s0", "s1", "s2"], 41, id="scripts: list + one output"
        ),
        pytest.param(POWER, 2, ["p0", "p1"], [], 0, id="the budget stops the desktops"),
        pytest.param(
            SCRIPTS, 5, ["s0", "s1", "s2"], ["s0"], 0, id="a script without room keeps its desktops"
        ),
        pytest.param(SCRIPTS, 6, ["s0", "s1"], ["s0", "s1"], 0, id="in the order decided"),
        pytest.param([*SCRIPTS[:1], *SCRIPTS[:1]], 50, ["s0"], ["s0"], 47, id="the same execution once"),
        pytest.param(SCRIPTS, 0, [], [], 0, id="no budget: nothing"),
    ],
)
def test_plan_lookups(
    wanted: list[Wanted], budget: int, details: list[str], scripts: list[str], spare: int
) -> None:
    plan = plan_lookups(wanted, budget)
    assert [item.task_id for item in plan.details] == details
    assert [item.task_id for item in plan.scripts] == scripts
    assert plan.spare == spare
    assert len(plan.details) + 2 * len(plan.scripts) + plan.spare == budget  # spare is what is left


@pytest.mark.parametrize(
    ("failed", "spare", "chosen"),
    [
        pytest.param([["a", "b", "c", "d"]], 10, [["a", "b", "c"]], id="at most MAX_SCRIPT_OUTPUTS each"),
        pytest.param([["a", "b"], ["x", "y"]], 1, [["a", "b"], ["x"]], id="spare outputs go in order"),
        pytest.param([["a", "b"], ["x", "y"]], 0, [["a"], ["x"]], id="the reserved first one each"),
        pytest.param([[], ["x"]], 5, [[], ["x"]], id="a list without failures costs no output"),
    ],
)
def test_plan_outputs(failed: list[list[str]], spare: int, chosen: list[list[str]]) -> None:
    assert plan_outputs(failed, spare) == chosen
    assert all(len(ids) <= MAX_SCRIPT_OUTPUTS for ids in chosen)


def test_a_whole_cycle_never_exceeds_its_budget() -> None:
    """However many executions and failed desktops: desktops + lists + outputs <= budget."""
    for budget in range(12):
        for count in range(6):
            plan = plan_lookups([Wanted(f"s{i}", f"q{i}", True) for i in range(count)], budget)
            outputs = plan_outputs([["a", "b", "c", "d"]] * len(plan.scripts), plan.spare)
            spent = len(plan.details) + len(plan.scripts) + sum(len(ids) for ids in outputs)
            assert spent <= budget


@pytest.mark.parametrize(
    ("output", "tail"),
    [
        pytest.param(None, "", id="nothing"),
        pytest.param("", "", id="empty"),
        pytest.param("one\ntwo\n\n\n", "one\ntwo", id="short: all of it, trailing blank lines dropped"),
        pytest.param("a\r\nb\rc", "a\nb\nc", id="any line break"),
        pytest.param(
            "\n".join(f"line {i}" for i in range(20)),
            "…" + "\n".join(f"line {i}" for i in range(8, 20)),
            id="the last twelve lines",
        ),
        pytest.param(
            "x" * 5000 + "END",
            "…" + ("x" * 5000 + "END")[-(OUTPUT_TAIL_CHARS - 1) :],
            id="one huge line: its end",
        ),
    ],
)
def test_output_tail(output: str | None, tail: str) -> None:
    assert output_tail(output) == tail
    assert len(output_tail(output)) <= OUTPUT_TAIL_CHARS
