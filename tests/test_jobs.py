"""BuildJob: background builds with their own logs, progress and cancel (real TensorRT-RTX)."""

from __future__ import annotations

import threading

from workbench.app.jobs import BuildJob
from workbench.build.settings import BuildSettings
from workbench.core.errors import BuildCancelled, ModelLoadError


def test_job_builds_in_the_background(sample) -> None:
    finished = threading.Event()
    job = BuildJob(sample("resnet_block"), on_done=lambda _job: finished.set())
    assert job.join(60) and finished.wait(5)
    assert job.state == "done" and job.fraction == 1.0
    assert job.artifact().card.plan_size > 0
    assert job.progress and job.progress[-1].phase == "Building engine"
    assert any("Engine generation completed" in line for line in job.log.lines())


def test_two_concurrent_builds_keep_their_logs_apart(sample) -> None:
    a = BuildJob(sample("mlp_dynamic_batch"), min_severity="VERBOSE")
    b = BuildJob(sample("tiny_cnn"), min_severity="VERBOSE")
    assert a.join(60) and b.join(60)
    assert a.state == b.state == "done"
    a_text, b_text = "\n".join(a.log.lines()), "\n".join(b.log.lines())
    assert "mlp_dynamic_batch.onnx" in a_text and "tiny_cnn.onnx" not in a_text
    assert "tiny_cnn.onnx" in b_text and "mlp_dynamic_batch.onnx" not in b_text
    assert "fc1" in a_text and "conv1" not in a_text


def test_cancel_ends_in_cancelled(sample) -> None:
    """Cancelled at TensorRT's first progress event (in the build thread itself, so no race
    with the build's last step): the job ends cancelled, with BuildCancelled as its error."""
    jobs: list[BuildJob] = []
    job = BuildJob(sample("transformer_block"), on_progress=lambda _e: jobs[0].cancel(),
                   start=False)
    jobs.append(job)
    job.start()
    assert job.join(30)
    assert job.state == "cancelled"
    assert isinstance(job.error, BuildCancelled)


def test_cancel_before_start_never_builds(sample) -> None:
    job = BuildJob(sample("tiny_cnn"), start=False)
    job.cancel()
    job.start()
    assert job.join(30) and job.state == "cancelled"


def test_failure_is_recorded_not_raised_in_the_thread(sample) -> None:
    job = BuildJob(sample("truncated"), BuildSettings())
    assert job.join(30) and job.state == "failed"
    assert isinstance(job.error, ModelLoadError)
