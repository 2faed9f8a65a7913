"""The session made of parts: one generic way to start background work, the parts' own
state, the old names forwarded to them, and precision / backend given as enum or text."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from workbench.app.session.run import RunBackend
from workbench.app.session.session import WorkbenchSession
from workbench.app.session.tasks import TaskKind, TaskState, current_task, progress_reporter
from workbench.core.errors import ComparisonError, ModelLoadError, WorkbenchError
from workbench.settings.fields import Precision


@pytest.fixture
def session(tmp_path: Path, samples_dir: Path) -> WorkbenchSession:
    made = WorkbenchSession(engines_dir=tmp_path / "engines", samples_dir=samples_dir,
                            work_dir=tmp_path / "out")
    yield made
    made.close()


def test_start_runs_a_part_method_in_its_slot_and_wait_returns_its_result(
        session: WorkbenchSession, sample) -> None:
    session.load(sample("tiny_cnn"))
    task = session.start(session.triage.diagnose)
    report = task.wait(60)
    assert task.kind is TaskKind.DIAGNOSE and task.state is TaskState.DONE
    assert task.name == "running parse triage"
    assert session.tasks[TaskKind.DIAGNOSE] is task
    assert report is session.triage.diagnosis and report.parsed


def test_start_names_a_task_from_its_arguments_and_needs_a_model(
        session: WorkbenchSession, sample) -> None:
    with pytest.raises(ModelLoadError, match="No model is loaded"):
        session.start(session.triage.diagnose)
    load = session.start(session.load, sample("tiny_cnn"))  # loading needs no model
    assert load.wait(60).label == "tiny_cnn.onnx" and load.kind is TaskKind.LOAD
    frozen = session.start(session.triage.freeze_inputs, {"x": 1})
    assert frozen.name == "freezing x = 1 and folding"
    frozen.join(60)


def test_start_refuses_work_that_is_not_marked_as_background(
        session: WorkbenchSession, sample) -> None:
    session.load(sample("tiny_cnn"))
    with pytest.raises(WorkbenchError, match="is not background work of the session") as info:
        session.start(session.builds.default_settings)
    assert "session.builds.start()" in (info.value.fix or "")


def test_work_reports_progress_through_the_task_it_runs_in(session: WorkbenchSession) -> None:
    assert current_task() is None and progress_reporter() is None  # the caller's thread
    gate = threading.Event()

    def work() -> str:
        report = progress_reporter()
        assert report is not None
        report("halfway", 1, 2)
        gate.wait(5)
        return "done"

    task = session.state.start(TaskKind.RUN, "working", work, needs_model=False)
    for _ in range(500):
        if task.activity:
            break
        threading.Event().wait(0.01)
    assert (task.activity, task.steps) == ("halfway", (1, 2))
    gate.set()
    assert task.wait(5) == "done" and current_task() is None


def test_old_names_forward_to_the_parts(session: WorkbenchSession, sample) -> None:
    session.load(sample("tiny_cnn"))
    job = session.start_build()
    assert job is session.builds.job is session.build_job
    assert session.wait_build(120) is session.artifact is session.builds.artifact
    session.settings = None  # assigned on the part that owns it
    assert session.builds.settings is None
    report = session.start_diagnose().wait(60)
    assert session.diagnosis is report is session.triage.diagnosis
    assert session.model is session.state.model and session.tasks is session.state.tasks
    assert [e.name for e in session.engines.entries()] == []
    session.save_engine("tiny")
    assert [e.name for e in session.engines.entries()] == ["tiny"]
    session.load(sample("tiny_cnn"))  # a new model clears every part's state
    assert session.artifact is None and session.diagnosis is None and session.inputs is None


def test_precision_and_backend_take_the_enum_or_its_text(session: WorkbenchSession,
                                                        sample) -> None:
    session.load(sample("tiny_cnn"))
    result = session.runs.run("onnxruntime")
    assert result.backend is RunBackend.ONNXRUNTIME
    with pytest.raises(WorkbenchError, match="Unknown backend 'cuda'") as info:
        session.runs.run("cuda")
    assert info.value.expected == "onnxruntime or tensorrt"
    report = session.precision.compare("fp16")
    assert report.precision == Precision.FP16 == "fp16"
    with pytest.raises(ComparisonError, match="Precision 'fp32' cannot be compared") as err:
        session.precision.compare(Precision.FP32)
    assert err.value.expected == "'fp16' or 'bf16'"
    with pytest.raises(ComparisonError, match="'int8' cannot be compared"):
        session.compare("int8")
