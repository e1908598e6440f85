"""maxk.schedule: the three K schedules, their parsing, and the shared ScheduledK helper."""

from __future__ import annotations

import logging
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import scheduled_k

from maxk import _maxk
from maxk.schedule import KSchedule, ScheduledK


def test_linear_rounds_half_up():
    s = KSchedule.linear(2, 8, 4)
    assert [s.k_at(t) for t in range(7)] == [2, 4, 5, 7, 8, 8, 8]
    down = KSchedule.linear(8, 2, 4)
    # 8 - 1.5 = 6.5 -> 7, 8 - 4.5 = 3.5 -> 4 (half up).
    assert [down.k_at(t) for t in range(6)] == [8, 7, 5, 4, 2, 2]


schedules = st.one_of(
    st.builds(lambda k: {"kind": "constant", "k": k}, st.integers(1, 10**6)),
    st.builds(
        lambda a, b, n: {"kind": "linear", "start": a, "end": b, "steps": n},
        st.integers(1, 10**6), st.integers(1, 10**6), st.integers(1, 10**6),
    ),
    st.builds(
        lambda gaps, ks: {"kind": "steps", "milestones": [[sum(gaps[:i]), k] for i, k in enumerate(ks)]},
        st.lists(st.integers(1, 10**4), min_size=6, max_size=6),
        st.lists(st.integers(1, 10**6), min_size=1, max_size=6),
    ),
)


def _text(d: dict) -> str:
    """The command-line form of a mapping-form schedule, written here from its definition."""
    if d["kind"] == "constant":
        return str(d["k"])
    if d["kind"] == "linear":
        return f"linear:{d['start']}:{d['end']}:{d['steps']}"
    return "steps:" + ",".join(f"{at}={k}" for at, k in d["milestones"])


@given(schedule=schedules, steps=st.lists(st.integers(0, 3 * 10**6), min_size=1, max_size=20))
@settings(max_examples=300, deadline=None)
def test_rust_and_python_agree_with_an_exact_reference(schedule, steps):
    # The same schedule through every door: the Python mapping form (adapters' YAML/Hydra
    # configs, the trainer's [rl.k_schedule] table), the text form read by the Rust core's
    # FromStr, and the core's own constructors (what the trainer runs), against exact rationals.
    fields = {key: value for key, value in schedule.items() if key != "kind"}
    python = KSchedule.parse(schedule)
    text = KSchedule.parse(_text(schedule))
    core = {
        "constant": lambda: _maxk.KSchedule.constant(**fields),
        "linear": lambda: _maxk.KSchedule.linear(**fields),
        "steps": lambda: _maxk.KSchedule.steps([tuple(m) for m in fields["milestones"]]),
    }[schedule["kind"]]()
    assert python == text and python.to_dict() == schedule
    assert _maxk.KSchedule.parse(_text(schedule)) == core and str(core) == _text(schedule)
    for step in steps:
        want = scheduled_k(schedule, step)
        assert python.k_at(step) == text.k_at(step) == core.k_at(step) == want, step
    assert python.values() == core.values()
    assert pickle.loads(pickle.dumps(python)) == python


def test_step_list_and_constant():
    s = KSchedule.step_list([(0, 2), (10, 4), (20, 8)])
    assert [s.k_at(t) for t in (0, 9, 10, 19, 20, 10**6)] == [2, 2, 4, 4, 8, 8]
    assert KSchedule.constant(3).k_at(123) == 3
    assert s.values() == [2, 4, 8] and KSchedule.linear(2, 8, 9).values() == [2, 8]


@pytest.mark.parametrize(
    "given, expected",
    [
        (4, KSchedule.constant(4)),
        ("4", KSchedule.constant(4)),
        ("linear:2:8:1000", KSchedule.linear(2, 8, 1000)),
        ("steps:0=2,100=4", KSchedule.step_list([(0, 2), (100, 4)])),
        ({"kind": "linear", "start": 2, "end": 8, "steps": 5}, KSchedule.linear(2, 8, 5)),
        ({"kind": "steps", "milestones": [[0, 2], [3, 4]]}, KSchedule.step_list([(0, 2), (3, 4)])),
        ({"k": 5}, KSchedule.constant(5)),
    ],
)
def test_parse_forms(given, expected):
    assert KSchedule.parse(given) == expected
    assert KSchedule.parse(expected.to_dict()) == expected


@pytest.mark.parametrize(
    "given, message",
    [
        (0, r"k = 0 must be >= 1"),
        (-1, r"k = -1 must not be negative"),
        ("linear:0:8:3", r"start = 0 must be >= 1"),
        ("steps:0=2,4=0", r"milestone k = 0 must be >= 1"),
        ("linear:a:8:10", r"start must be a non-negative integer"),
        ("linear:2:8", r"expected linear:START:END:STEPS"),
        ("linear:2:8:0", r"steps = 0 must be >= 1"),
        ("steps:1=2", r"must start at step 0"),
        ("steps:0=2,5=3,5=4", r"milestone steps must increase, got 5 then 5"),
        ("cosine:1:2", r"expected an integer, linear"),
        ({"kind": "cosine", "k": 2}, r"unknown kind 'cosine'"),
        ({"kind": "constant", "k": 2, "warmup": 1}, r"unknown keys \['warmup'\]"),
    ],
)
def test_bad_schedules_are_clear_errors(given, message):
    with pytest.raises(ValueError, match=message):
        KSchedule.parse(given)


def test_non_integers_are_type_errors():
    with pytest.raises(TypeError, match=r"k must be an integer, got 2.5"):
        KSchedule.parse(2.5)
    with pytest.raises(TypeError, match=r"steps must be an integer, got None"):
        KSchedule.parse({"kind": "linear", "start": 2, "end": 8})


def test_scheduled_k_counts_calls_or_uses_the_given_step(caplog):
    caplog.set_level(logging.INFO, logger="maxk.schedule")
    s = ScheduledK("steps:0=2,2=4")
    assert [s.k() for _ in range(4)] == [2, 2, 4, 4]
    assert s.k(step=0) == 2 and (s.last_step, s.last_k) == (0, 2)
    assert "maxk K=4 at step 3" in caplog.text
    resumed = ScheduledK("steps:0=2,2=4", start_step=2)
    assert resumed.k() == 4
