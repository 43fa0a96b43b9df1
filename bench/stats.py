"""Medians, percentiles, and interleaved timing: each comparison is measured in the same run, in turn
(in rotating order), so that a change of machine load hits them all alike."""

import math
import time
import timeit
from dataclasses import dataclass, field
from statistics import median  # noqa: F401 (the figures take it from here)


def percentile(values, fraction):
    """The nearest-rank percentile: the smallest value with at least `fraction` of them at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def timed(function):
    """(seconds, result) of one call."""
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


@dataclass
class Samples:
    """Wall-clock and calling-thread CPU seconds of repeated calls."""

    wall: list = field(default_factory=list)
    cpu: list = field(default_factory=list)

    def record(self, function):
        wall, cpu = time.perf_counter(), time.thread_time()
        function()
        self.cpu.append(time.thread_time() - cpu)
        self.wall.append(time.perf_counter() - wall)

    def __len__(self):
        return len(self.wall)


def interleaved(*functions, rounds, budget):
    """Call each of `functions` in turn, up to `rounds` times each and for about `budget` seconds.

    The order rotates every round, so that each function goes first as often as the others.
    Returns one Samples per function (equal in length).
    """
    samples = [Samples() for _ in functions]
    pairs = list(zip(functions, samples, strict=True))
    deadline = time.monotonic() + budget
    for round_number in range(rounds):
        shift = round_number % len(pairs)
        for function, function_samples in pairs[shift:] + pairs[:shift]:
            function_samples.record(function)
        if time.monotonic() > deadline:
            break
    return samples


def cpu_speed():
    """Seconds for a fixed pure-Python loop (best of 5): how fast this machine runs Python right now."""
    return min(timeit.repeat("sum(range(1_000_000))", number=1, repeat=5))


def ms(seconds):
    return seconds * 1000
