"""The kept worker threads seen from Python: the same bits for any thread count, from
several Python threads at once, and in a forked child (which has none of its parent's
workers)."""

import os
import signal
import sys
import threading

import numpy as np
import pytest

import mpcore


def _operands(rng, batch=3, n=40, out=70):
    return (rng.standard_normal((batch, n)).astype(np.float32), rng.standard_normal((out, n)).astype(np.float32),
            rng.standard_normal(out).astype(np.float32))


def test_back_to_back_small_calls_match_one_thread(rng):
    x, w, b = _operands(rng)
    want = mpcore.matmul(x, w, b, acc="fp16", threads=1)
    for threads in (2, 3, 2, 4) * 50:
        assert np.array_equal(mpcore.matmul(x, w, b, acc="fp16", threads=threads), want)


def test_concurrent_python_threads(rng):
    x, w, b = _operands(rng, batch=64, n=300, out=200)
    want = mpcore.matmul(x, w, b, acc="bf16", rounding="sr", seed=3, threads=1)
    bad = []

    def caller():
        for _ in range(20):
            if not np.array_equal(mpcore.matmul(x, w, b, acc="bf16", rounding="sr", seed=3, threads=2), want):
                bad.append(1)

    callers = [threading.Thread(target=caller) for _ in range(4)]
    for t in callers:
        t.start()
    for t in callers:
        t.join()
    assert not bad


@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "darwin", reason="needs fork")
def test_forked_child_computes(rng):
    x, w, b = _operands(rng, batch=16, n=200, out=100)
    want = mpcore.matmul(x, w, b, acc="fp8_e4m3", threads=2)  # the parent's workers exist now
    pid = os.fork()
    if pid == 0:  # the child: exit status 0 only if its own threads give the same bits
        signal.alarm(60)  # one waiting on workers it does not have dies instead of hanging
        ok = np.array_equal(mpcore.matmul(x, w, b, acc="fp8_e4m3", threads=2), want)
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert np.array_equal(mpcore.matmul(x, w, b, acc="fp8_e4m3", threads=2), want)
