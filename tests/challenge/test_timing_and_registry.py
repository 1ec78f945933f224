"""The stage clock (where a run's time goes) and the registry behind generators, methods,
schemes and proxies."""
import re
import time

import pytest

from challenge.errors import KitError
from challenge.registry import Registry
from challenge.timing import StageClock


def test_lazy_generation_is_counted_as_generation_not_calibration():
    clock = StageClock()

    def slow_batches():
        for _ in range(3):
            time.sleep(0.05)  # making a batch
            yield 1

    batches = clock.iterate("generate", slow_batches())
    with clock.stage("calibrate"):
        for _ in batches:
            time.sleep(0.02)  # observing it
    assert list(clock.seconds) == ["calibrate", "generate"]
    assert 0.15 <= clock.seconds["generate"] < 0.4
    assert 0.06 <= clock.seconds["calibrate"] < 0.2  # the generator's 0.15 s are not in it
    assert clock.total() >= sum(clock.seconds.values())
    assert re.fullmatch(r"calibrate \d+\.\d, generate \d+\.\d; total \d+\.\d", clock.line())


def test_registry_refuses_duplicates_and_lists_the_choices():
    registry = Registry("widget")
    first, second = object(), object()
    registry.add("a", first)
    registry.add("a", first)  # the same entry again (a module imported twice) is no change
    with pytest.raises(ValueError, match="widget 'a' is already registered"):
        registry.add("a", second)
    registry.add("c", second)
    assert registry.get("a") is first and registry.names() == ["a", "c"]
    with pytest.raises(KitError, match="unknown widget 'b'; choose one of a, c$"):
        registry.get("b")


def test_every_registry_uses_the_helper():
    import synth
    from challenge.quant import methods, schemes
    from challenge.search import proxies

    assert {type(r) for r in (synth.GENERATORS, methods.METHODS, schemes.SCHEMES, proxies.PROXIES)} == {Registry}
    assert schemes.list_schemes()[0] == "int8"  # in registration order, as the README lists them
    with pytest.raises(KitError, match="or give path/to/file.py:function"):
        synth.get_generator("magic")
