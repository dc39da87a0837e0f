"""Where the device time of a training step goes: JAX profiler traces summed per operation.

`trace_steps(run, steps)` traces a call `run()` that trains `steps` (compiled) steps and
returns a `StepProfile`; `print_profile` prints, per step, the device-busy time against the wall
time (the difference is time the device waited for the host) and the operations that took most
device time, once by XLA operation (`convolution.12` ...; numbered instances of one kind summed
as `convolution`) and once by GPU kernel name (which cuDNN kernels ran, whether layouts were
transposed). JAX backend only: the trace is JAX's XSpace, read with `jax.profiler.ProfileData`.
"""

import collections
import glob
import re
import tempfile
import time
from dataclasses import dataclass, field

_INSTANCE_SUFFIX = re.compile(r"(\.\d+)+$")


@dataclass
class StepProfile:
    steps: int
    wall_s: float
    device_busy_s: float = 0.0
    ops: collections.Counter = field(default_factory=collections.Counter)  # XLA op kind -> seconds
    op_counts: collections.Counter = field(default_factory=collections.Counter)
    kernels: collections.Counter = field(default_factory=collections.Counter)  # kernel name -> seconds
    kernel_counts: collections.Counter = field(default_factory=collections.Counter)


def op_kind(name):
    """`loop_multiply_fusion.12` -> `loop_multiply_fusion`: instances of one kind of operation."""
    return _INSTANCE_SUFFIX.sub("", name)


def _busy_seconds(intervals):
    """Length of the union of (start, end) intervals in ns, in seconds."""
    busy, end = 0, None
    for start, stop in sorted(intervals):
        if end is None or start > end:
            busy += stop - start
            end = stop
        elif stop > end:
            busy += stop - end
            end = stop
    return busy / 1e9


def summarize_xspace(path, steps, wall_s):
    """A `StepProfile` from the XSpace file `path` of a trace of `steps` steps in `wall_s` seconds."""
    from jax.profiler import ProfileData

    profile = StepProfile(steps=steps, wall_s=wall_s)
    kernel_intervals = []
    for plane in ProfileData.from_file(path).planes:
        if not plane.name.startswith("/device:"):
            continue
        for line in plane.lines:
            if line.name == "XLA Ops":
                for event in line.events:
                    kind = op_kind(event.name)
                    profile.ops[kind] += event.duration_ns / 1e9
                    profile.op_counts[kind] += 1
            elif line.name.startswith("Stream"):
                for event in line.events:
                    profile.kernels[event.name] += event.duration_ns / 1e9
                    profile.kernel_counts[event.name] += 1
                    kernel_intervals.append((event.start_ns, event.start_ns + event.duration_ns))
    profile.device_busy_s = _busy_seconds(kernel_intervals)
    return profile


def trace_steps(run, steps):
    """Trace `run()`, which trains `steps` already compiled steps and waits for them."""
    import jax

    with tempfile.TemporaryDirectory() as log_dir:
        jax.profiler.start_trace(log_dir)
        start = time.perf_counter()
        run()
        wall_s = time.perf_counter() - start
        jax.profiler.stop_trace()
        paths = glob.glob(log_dir + "/**/*.xplane.pb", recursive=True)
        if not paths:
            raise RuntimeError("the JAX profiler wrote no trace under {}".format(log_dir))
        return summarize_xspace(paths[0], steps, wall_s)


def _table(title, seconds, counts, steps, top):
    total = sum(seconds.values()) or 1.0
    lines = ["{}: {:.2f} ms per step in {} launches".format(title, 1e3 * total / steps, sum(counts.values()) // steps),
             "{:>10} {:>7} {:>7}  {}".format("ms/step", "share", "n/step", "name")]
    for name, s in seconds.most_common(top):
        lines.append("{:>10.3f} {:>6.1f}% {:>7.1f}  {}".format(1e3 * s / steps, 100 * s / total, counts[name] / steps,
                                                             name[:110]))
    return "\n".join(lines)


def print_profile(profile, top=25, file=None):
    steps = profile.steps
    print("profile of {} steps: wall {:.2f} ms per step, device busy {:.2f} ms per step ({:.0f}% of wall)".format(
        steps, 1e3 * profile.wall_s / steps, 1e3 * profile.device_busy_s / steps,
        100 * profile.device_busy_s / profile.wall_s), file=file)
    if profile.ops:
        print(_table("XLA operations", profile.ops, profile.op_counts, steps, top), file=file)
    if profile.kernels:
        print(_table("GPU kernels", profile.kernels, profile.kernel_counts, steps, top), file=file)
