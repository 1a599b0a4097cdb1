"""What the benchmark scripts share: timing a call in milliseconds."""

import time


def timed(fn):
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000
