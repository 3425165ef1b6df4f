"""`datasets.background.WriteBehind`: calls run in order on a thread; the first error reaches the caller."""
import threading

import pytest

from datasets.background import WriteBehind


def test_calls_run_in_order_on_another_thread():
    done, threads = [], set()

    def record(value):
        done.append(value)
        threads.add(threading.get_ident())

    with WriteBehind(depth=2) as writer:
        for value in range(20):
            writer.submit(record, value)
    assert done == list(range(20))
    assert threads and threading.get_ident() not in threads


def test_the_first_error_is_raised_on_leaving_and_later_calls_are_skipped():
    done = []

    def fail(value):
        raise OSError(f"disk full at {value}")

    with pytest.raises(OSError, match="disk full at 1"):
        with WriteBehind() as writer:
            writer.submit(done.append, 0)
            writer.submit(fail, 1)
            writer.submit(done.append, 2)
    assert done == [0]


def test_an_error_of_the_caller_is_not_hidden():
    with pytest.raises(KeyError):
        with WriteBehind() as writer:
            writer.submit(lambda: None)
            raise KeyError("caller")
