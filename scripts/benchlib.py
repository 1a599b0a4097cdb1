"""What the benchmark scripts share: timing calls in milliseconds."""

import statistics
import sys
import time


def timed(fn):
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def medians(probes, runs, digits=1) -> dict[str, float]:
    """The median milliseconds of each probe (name -> call). Each run times every probe once,
    so a noisy moment on a shared machine falls on all of them alike; each run goes to stderr."""
    samples = {name: [] for name in probes}
    for run in range(runs):
        for name, probe in probes.items():
            samples[name].append(timed(probe))
        print(f"run {run + 1}/{runs}", {k: round(v[-1], digits) for k, v in samples.items()}, file=sys.stderr)
    return {name: round(statistics.median(times), digits) for name, times in samples.items()}
