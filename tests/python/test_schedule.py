"""maxk.schedule: the three K schedules, their parsing, and the shared ScheduledK helper."""

from __future__ import annotations

import logging
import math

import pytest

from maxk.schedule import KSchedule, ScheduledK


def test_linear_rounds_half_up_like_the_rust_trainer():
    s = KSchedule.linear(2, 8, 4)
    assert [s.k_at(t) for t in range(7)] == [2, 4, 5, 7, 8, 8, 8]
    down = KSchedule.linear(8, 2, 4)
    assert [down.k_at(t) for t in range(6)] == [8, 7, 5, 4, 2, 2]
    long = KSchedule.linear(1, 64, 1000)
    for t in range(1200):
        assert long.k_at(t) == math.floor(1 + 63 * min(t, 1000) / 1000 + 0.5), t


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


def test_scheduled_k_counts_calls_or_uses_the_given_step(caplog):
    caplog.set_level(logging.INFO, logger="maxk.schedule")
    s = ScheduledK("steps:0=2,2=4")
    assert [s.k() for _ in range(4)] == [2, 2, 4, 4]
    assert s.k(step=0) == 2 and (s.last_step, s.last_k) == (0, 2)
    assert "maxk K=4 at step 3" in caplog.text
    resumed = ScheduledK("steps:0=2,2=4", start_step=2)
    assert resumed.k() == 4
