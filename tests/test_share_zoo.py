"""Triage of a model folder: one process per model, so a crash or a hang costs one row.

Real TensorRT-RTX parses and builds in every child process; the crash is TensorRT-RTX
1.7.1's own parser segfault (a node without outputs), not a simulated one.
"""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import onnx
import pytest

from workbench.app.zoo.html import render_zoo
from workbench.app.zoo.triage import ZooReport, ZooRow, compare_zoos, triage_folder
from workbench.cli import main
from workbench.core.errors import WorkbenchError


def zoo(tmp_path: Path, sample, *names: str) -> Path:
    folder = tmp_path / "zoo"
    folder.mkdir(exist_ok=True)
    for name in names:
        shutil.copy(sample(name), folder / f"{name}.onnx")
    return folder


def add_parser_crasher(folder: Path, sample) -> None:
    model = onnx.load(sample("tiny_cnn"))
    del model.graph.node[0].output[:]  # TensorRT-RTX 1.7.1's parser segfaults on this
    (folder / "nested").mkdir()
    onnx.save(model, folder / "nested" / "crasher.onnx")


def test_triage_of_the_realistic_corpus_with_a_crash_contained(tmp_path: Path,
                                                                sample) -> None:
    from sample_models.realistic import REALISTIC, write_all

    folder = zoo(tmp_path, sample, "truncated")
    write_all(folder)
    add_parser_crasher(folder, sample)
    seen: list[str] = []
    report = triage_folder(folder, build=True, jobs=2, on_row=lambda r: seen.append(r.model))
    rows = {row.model: row for row in report.rows}
    assert sorted(seen) == sorted(rows) == [row.model for row in report.rows]
    for entry in REALISTIC:  # what the corpus records TensorRT-RTX does with each model
        row = rows[f"{entry.name}.onnx"]
        assert row.status == "ok" and (row.parse == "parses") == entry.parses, row
        if entry.parses:
            assert (row.build == "built") == entry.builds_with_defaults, row
            assert (row.plan_bytes or 0) > 0 or row.build_detail, row
        else:
            assert row.category and row.build == "skipped", row
    assert rows["truncated.onnx"].parse == "refused"
    crash = rows["nested/crasher.onnx"]
    assert crash.status == "crashed" and "SIGSEGV" in crash.error
    counts = report.counts()
    assert counts["models"] == len(REALISTIC) + 2 and counts["crashed_or_timeout"] == 1


def test_a_hang_costs_one_row(tmp_path: Path, sample) -> None:
    folder = zoo(tmp_path, sample, "tiny_cnn")
    # a build takes about a second: far past the timeout, whatever the machine (parse
    # triage alone can finish inside 10 ms once the zygote has TensorRT loaded)
    row = triage_folder(folder, build=True, timeout=0.05).rows[0]
    assert row.status == "timeout" and "stopped" in row.error


def test_since_shows_what_changed_and_the_page_renders(tmp_path: Path) -> None:
    old = ZooReport("zoo", (ZooRow("a.onnx", parse="parses", build="built"),
                            ZooRow("b.onnx", parse="fails", categories=("unsupported_op",)),
                            ZooRow("gone.onnx")), True, False, 1.0)
    new = ZooReport("zoo", (ZooRow("a.onnx", parse="parses", build="failed"),
                            ZooRow("b.onnx", parse="parses"),
                            ZooRow("new.onnx")), True, True, 1.0)
    changes = [c.text() for c in compare_zoos(old, new)]
    assert changes == ["gone.onnx: removed", "a.onnx: build built → failed",
                       "b.onnx: parse fails → parses", "b.onnx: category unsupported_op → -",
                       "new.onnx: added"]  # fp16: only the new run compared, not a change
    page = render_zoo(new, compare_zoos(old, new))
    assert "Changes since the earlier run" in page and "build built" not in page
    assert "<td>a.onnx</td><td>build</td><td>built</td><td>failed</td>" in page
    path = tmp_path / "zoo.json"
    new.save(path)
    assert ZooReport.load(path) == new
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(WorkbenchError, match="earlier triage"):
        ZooReport.load(tmp_path / "bad.json")


def test_cli_triage_json_since_and_overwrite(tmp_path: Path, sample, capsys) -> None:
    folder = zoo(tmp_path, sample, "tiny_cnn")
    first = tmp_path / "first.json"
    assert main(["triage", str(folder), "-o", str(tmp_path / "z.html"),
                 "--json", str(first)]) == 0
    assert json.loads(first.read_text())["rows"][0]["parse"] == "parses"
    shutil.copy(sample("unsupported_op"), folder / "unsupported_op.onnx")
    assert main(["triage", str(folder), "-o", str(tmp_path / "z.html"), "--since",
                 str(first), "--jobs", "2"]) == 1  # z.html exists: refused before any work
    assert "already exists" in capsys.readouterr().err
    assert main(["triage", str(folder), "-o", str(tmp_path / "z.html"), "--since",
                 str(first), "--overwrite"]) == 0
    out = capsys.readouterr().out
    assert "1 change(s) since the earlier run" in out and "unsupported_op.onnx: added" in out
    assert "unsupported_op.onnx" in (tmp_path / "z.html").read_text()


def test_any_executor_and_a_local_dask_cluster(tmp_path: Path, sample) -> None:
    folder = zoo(tmp_path, sample, "unsupported_op")
    with ThreadPoolExecutor(max_workers=1) as pool:
        expected = [(r.model, r.category) for r in triage_folder(folder, executor=pool).rows]
    assert expected == [("unsupported_op.onnx", "unsupported_op")]
    distributed = pytest.importorskip(
        "distributed", reason="dask[distributed] is the optional [dask] extra; not installed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        report = triage_folder(folder, executor=client.get_executor())
    assert [(r.model, r.category) for r in report.rows] == expected


def test_children_import_the_parents_workbench(tmp_path: Path, sample) -> None:
    """A notebook that put the checkout on sys.path by hand (no PYTHONPATH, another cwd):
    each model's process still imports this workbench, not whatever else is installed."""
    import os
    import subprocess
    import sys

    folder = zoo(tmp_path, sample, "tiny_cnn")
    root = Path(__file__).resolve().parent.parent
    code = (f"import sys; sys.path.insert(0, {str(root)!r})\n"
            "from workbench.app.zoo.triage import triage_folder\n"
            f"row = triage_folder({str(folder)!r}).rows[0]\n"
            "print(row.status, row.parse, row.error)")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.split()[:2] == ["ok", "parses"], done.stdout + done.stderr
