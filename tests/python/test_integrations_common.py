"""maxk.integrations._common, the one place every framework adapter reads its maxk settings
from (no framework needed): errors name the framework's setting and value, the small-group
default is ``zero``, and every adapter module is listed and goes through ``Settings.read``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import maxk
import maxk.integrations
from maxk.integrations._common import FIELDS, Settings, calls, framework_name, framework_names


def read(k_hint="set k", estimator=None, **values):
    return Settings.read(values.get, lambda name: f"--my.{name}", k_hint=k_hint, estimator=estimator)


def test_defaults_and_values():
    s = read(k=4)
    assert (s.estimator, s.k, s.k_schedule, s.scale, s.small_groups) == ("maxpo", 4, None, "none", "zero")
    assert read(estimator="rloo").k == 1  # estimators that ignore K need none
    s = read(estimator="pkpo", k_schedule="linear:2:6:4", scale="pg", small_groups="shrink-k")
    assert (s.k, min(s.ks()), max(s.ks()), s.scale, s.small_groups) == (2, 2, 6, "pg", "shrink-k")
    assert read(k="", k_schedule="steps:0=1,3=2").k_schedule is not None  # "" is unset (env, CLI)


@pytest.mark.parametrize(("values", "message"), [
    ({}, "maxk estimator 'maxpo' needs K: set k"),
    ({"k": 2, "k_schedule": "linear:1:2:3"}, "give --my.k or --my.k_schedule, not both"),
    ({"k": "four"}, "--my.k='four': K must be a positive integer"),
    ({"k": 0}, "--my.k=0: K must be a positive integer"),
    ({"k_schedule": "linear:1"}, "--my.k_schedule='linear:1': "),
    ({"k": 2, "scale": "batch"}, "--my.scale='batch': unknown scale id; known: none, std, pg"),
    ({"k": 2, "small_groups": "drop"}, "--my.small_groups='drop': unknown small-groups id"),
    ({"estimator": "nope", "k": 2}, "--my.estimator='nope': unknown estimator"),
])
def test_errors_name_the_setting_and_value(values, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        read(**values)


@given(k=st.integers(1, 10**6), text=st.booleans())
def test_k_from_ints_and_strings(k, text):
    assert read(k=str(k) if text else k).k == k


def test_group_size_check_names_the_framework_settings():
    with pytest.raises(ValueError, match=r"n=4 k=4: k = 4 is out of range for maxpo with group size 4"):
        read(k=4).check_group_size(4, lambda k: f"n=4 k={k}")
    read(k=4, small_groups="centered-ei").check_group_size(4, lambda k: "")  # the K = N fallback
    with pytest.raises(ValueError, match="k=5"):  # every K a schedule reaches is checked
        read(k_schedule="steps:0=2,10=5").check_group_size(5, lambda k: f"k={k}")


def test_schedule_counts_calls_without_a_step():
    s = read(k_schedule="steps:0=1,2=3", estimator="pkpo")
    from maxk.integrations._common import restart_schedules

    restart_schedules()
    assert [s.k_now() for _ in range(3)] + [s.k_now(10)] == [1, 1, 3, 3]


def test_names():
    assert framework_name("grpo", {"grpo", "gae"}) == "maxk_grpo" and framework_name("maxpo", {"grpo"}) == "maxpo"
    assert set(framework_names({"rloo"}).values()) == set(maxk.estimators())


def test_every_adapter_is_listed_and_reads_settings_through_common():
    root = Path(maxk.integrations.__file__).parent
    modules = {p.stem for p in root.glob("*.py")} - {"__init__", "_common", "swift_plugin"}
    assert set(maxk.integrations.ADAPTERS) == modules
    for name in modules:
        source = (root / f"{name}.py").read_text()
        assert "Settings.read(" in source or "Settings.from_env(" in source, name
        assert not re.search(r"small_groups\s*=\s*\"error\"", source), name  # the default is zero everywhere
    assert FIELDS == ("estimator", "k", "k_schedule", "scale", "small_groups", "mixture", "maj")


def test_calls_sees_through_closures():
    def hook(self):
        return self._calculate_rewards()

    def wrap(f):
        def wrapped(self):
            return f(self)

        return wrapped

    assert calls(wrap(wrap(hook)), "_calculate_rewards") and not calls(wrap(len), "_calculate_rewards")
