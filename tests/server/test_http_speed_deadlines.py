"""`engine.run.execute.Deadlines`: the query timeouts on one thread instead of a timer thread each."""

import threading
import time

from engine.run.execute import Deadlines


def test_an_action_runs_once_its_time_has_passed():
    deadlines = Deadlines()
    fired = threading.Event()
    started = time.monotonic()
    deadlines.arm(0.1, fired.set)
    assert fired.wait(5)
    assert time.monotonic() - started >= 0.09
    assert deadlines.pending() == 0


def test_a_disarmed_action_never_runs():
    deadlines = Deadlines()
    calls = []
    handle = deadlines.arm(0.05, lambda: calls.append("early"))
    deadlines.disarm(handle)
    deadlines.disarm(handle)  # twice is harmless
    done = threading.Event()
    deadlines.arm(0.15, done.set)
    assert done.wait(5)
    assert calls == []


def test_an_earlier_deadline_armed_later_runs_first():
    deadlines = Deadlines()
    order = []
    done = threading.Event()
    deadlines.arm(0.6, lambda: (order.append("late"), done.set()))
    time.sleep(0.05)  # the thread now sleeps until the late deadline
    deadlines.arm(0.05, lambda: order.append("early"))
    assert done.wait(5)
    assert order == ["early", "late"]


def test_disarming_after_the_action_ran_is_a_no_op():
    deadlines = Deadlines()
    fired = threading.Event()
    handle = deadlines.arm(0.01, fired.set)
    assert fired.wait(5)
    deadlines.disarm(handle)
    assert deadlines.pending() == 0


def test_many_disarmed_deadlines_do_not_pile_up():
    deadlines = Deadlines()
    for _ in range(10_000):
        deadlines.disarm(deadlines.arm(600, lambda: None))
    assert deadlines.pending() == 0
    assert len(deadlines._heap) <= 200


def test_a_failing_action_does_not_stop_the_others():
    deadlines = Deadlines()
    done = threading.Event()

    def fail():
        raise RuntimeError("boom")

    deadlines.arm(0.01, fail)
    deadlines.arm(0.05, done.set)
    assert done.wait(5)
