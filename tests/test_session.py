"""WorkbenchSession without widgets: loading, events, background tasks, parse triage."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from workbench.app.session.session import WorkbenchSession
from workbench.app.session.tasks import EventHub, Task, as_workbench_error
from workbench.core.errors import ModelLoadError, WorkbenchBug, WorkbenchError


@pytest.fixture
def session(tmp_path: Path, samples_dir: Path) -> WorkbenchSession:
    made = WorkbenchSession(engines_dir=tmp_path / "engines", samples_dir=samples_dir,
                            work_dir=tmp_path / "out")
    yield made
    made.close()


def test_task_turns_any_exception_into_a_workbench_error() -> None:
    task = Task("adding things")
    task.start(lambda: 1 + "x")  # type: ignore[operator]
    with pytest.raises(WorkbenchError) as info:
        task.wait(5)
    err = info.value
    assert task.state == "failed" and err is task.error
    assert isinstance(err, WorkbenchBug)
    assert err.summary == "This is a workbench bug: an unexpected error while adding things."
    assert "Bug bundle" in (err.fix or "")
    assert "TypeError" in (err.found or "")
    assert any("Traceback" in line for line in err.details)  # only in the expandable part


def test_task_refuses_to_start_twice_and_reports_state_changes() -> None:
    states: list[str] = []
    gate = threading.Event()
    task = Task("waiting", on_change=lambda t: states.append(t.state))
    task.start(gate.wait)
    with pytest.raises(WorkbenchError, match="Already waiting"):
        task.start(lambda: None)
    gate.set()
    assert task.wait(5) is True
    assert states == ["running", "done"]


def test_event_hub_survives_a_broken_listener() -> None:
    hub, seen = EventHub(), []
    hub.on("x", lambda _e, _p: 1 / 0)
    off = hub.on("x", lambda _e, payload: seen.append(payload))
    hub.emit("x", 1)
    off()
    hub.emit("x", 2)
    assert seen == [1] and hub.listener_errors == 2


def test_as_workbench_error_keeps_workbench_errors() -> None:
    err = ModelLoadError("bad")
    assert as_workbench_error(err, "x") is err


def test_load_sample_emits_model_event(session: WorkbenchSession, sample) -> None:
    seen = []
    session.on("model", lambda _e, model: seen.append(model))
    model = session.load(sample("mlp_dynamic_batch"))
    assert seen == [model]
    assert model.label == "mlp_dynamic_batch.onnx" and model.path is not None
    assert [s.name for s in model.summary.inputs] == ["features"]
    assert model.summary.inputs[0].shape[0] == "batch"


def test_sample_models_are_listed(session: WorkbenchSession) -> None:
    names = [p.name for p in session.sample_models()]
    assert "tiny_cnn.onnx" in names and "truncated.onnx" in names


def test_truncated_model_gives_load_error_and_clears_model(session: WorkbenchSession,
                                                           sample) -> None:
    session.load(sample("tiny_cnn"))
    with pytest.raises(ModelLoadError, match="not a valid ONNX model"):
        session.load(sample("truncated"))
    assert session.model is None
    assert session.load_error is not None and "truncated" in session.load_error.fix


def test_load_bytes_upload(session: WorkbenchSession, sample) -> None:
    model = session.load(sample("tiny_cnn").read_bytes(), label="mine.onnx")
    assert model.path is None and model.label == "mine.onnx"
    assert session.model_source() == model.data


def test_diagnose_in_background(session: WorkbenchSession, sample) -> None:
    session.load(sample("unsupported_op"))
    report = session.start_diagnose().wait(60)
    assert report is session.diagnosis and not report
    assert report.issues[0].op_type == "FancyActivation"


def test_fold_and_retry_writes_a_new_file_and_parses(session: WorkbenchSession,
                                                     sample, tmp_path: Path) -> None:
    session.load(sample("needs_constant_folding"))
    assert not session.diagnose()
    report = session.start_fold_and_retry().wait(60)
    folded = session.derived["folded"]
    assert folded.parent == tmp_path / "out" and folded.exists()
    assert report, report.text()
    assert session.model is not None and session.model.path == folded.resolve()


def test_netron_serves_the_model_bytes(session: WorkbenchSession, sample) -> None:
    import urllib.request

    session.load(sample("tiny_cnn"))
    view = session.start_graph()
    try:
        assert view.host == "127.0.0.1"
        with urllib.request.urlopen(view.url, timeout=10) as response:
            assert response.status == 200
    finally:
        session.stop_graph()
    assert session.graph_view is None


def test_no_model_error_says_what_to_do(session: WorkbenchSession) -> None:
    with pytest.raises(ModelLoadError) as info:
        session.start_diagnose()
    assert "upload" in (info.value.fix or "")


def test_one_task_abstraction_for_builds_and_slots(session: WorkbenchSession, sample) -> None:
    """BuildJob is a Task: same states, same join/wait; kinds have separate slots."""
    from workbench.app.session.jobs import BuildJob
    from workbench.app.session.tasks import Event, TaskKind, TaskState

    assert issubclass(BuildJob, Task)
    seen: list[tuple[str, object]] = []
    session.on(Event.TASK, lambda event, task: seen.append((event, task.kind)))
    session.load(sample("tiny_cnn"))
    job = session.start_build()
    assert session.wait_build(60) is session.artifact and job.state is TaskState.DONE
    assert job.kind is TaskKind.BUILD and job.done and not job.busy
    session.start_diagnose().wait(60)
    assert set(session.tasks) == {TaskKind.BUILD, TaskKind.DIAGNOSE}
    assert session.tasks["build"] is job and "diagnose" in session.tasks
    assert ("task", TaskKind.DIAGNOSE) in seen


def test_triage_tasks_exclude_each_other(session: WorkbenchSession, sample) -> None:
    from workbench.app.session.tasks import TaskKind

    gate = threading.Event()
    session.load(sample("tiny_cnn"))
    task = session.state.start(TaskKind.DIAGNOSE, "waiting for the gate", gate.wait)
    with pytest.raises(WorkbenchError, match="Already waiting for the gate"):
        session.start_reduce()
    gate.set()
    assert task.wait(5) is True and session.triage_task is task
