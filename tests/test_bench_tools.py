"""The measuring tools behind bench/bench_train.py: the profile summary and both timing modes."""

import os
import sys

import numpy as np
import pytest

from conftest import REPO_ROOT, run_script

sys.path.insert(0, os.path.join(REPO_ROOT, "bench"))
import profile_step  # noqa: E402


def test_busy_seconds_is_the_length_of_the_union_of_intervals():
    rng = np.random.default_rng(0)
    for _ in range(50):
        starts = rng.integers(0, 200, size=rng.integers(1, 12))
        intervals = [(int(s), int(s + rng.integers(0, 40))) for s in starts]
        covered = np.zeros(300, dtype=bool)  # brute force: mark every covered nanosecond
        for start, stop in intervals:
            covered[start:stop] = True
        assert profile_step._busy_seconds(intervals) == pytest.approx(covered.sum() / 1e9)
    assert profile_step._busy_seconds([]) == 0


def test_op_kind_sums_numbered_instances():
    assert profile_step.op_kind("loop_multiply_fusion.12") == "loop_multiply_fusion"
    assert profile_step.op_kind("convolution.3.1") == "convolution"
    assert profile_step.op_kind("cudnn-conv-bw-filter") == "cudnn-conv-bw-filter"
    assert profile_step.op_kind("fusion.v2") == "fusion.v2"


@pytest.mark.parametrize("mode", ["fit", "batch"])
def test_bench_train_runs_both_modes(mode):
    result = run_script("bench/bench_train.py", "--architectures", "simple", "--image_size", "8", "--batch_size", "4",
                        "--steps", "2", "--repeats", "1", "--warmup", "1", "--classes", "3", "--matmul_size", "64",
                        "--mode", mode, env={"KERAS_BACKEND": "jax"})
    assert result.returncode == 0, result.stderr[-3000:]
    row = [line for line in result.stdout.splitlines() if line.startswith("simple")]
    assert len(row) == 1 and float(row[0].split()[3]) > 0  # train img/s
    assert "mode={} ".format(mode) in result.stdout
