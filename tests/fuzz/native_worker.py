"""Worker process for fuzzing native TensorRT calls: ``TARGET START STOP [PLAN_DIR]``.

Prints one JSON line ``{"start": i}`` before each case and one outcome line after it, so
the parent knows which case killed the process when a native call crashes. Targets:
``diagnose`` (mutated ONNX, TensorRT's parser) and ``load_engine`` (mutated plans and
cards from PLAN_DIR/engine.plan + engine.plan.json).
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fuzz_cases import check_outcome, make_engine_case, make_model_case

__all__ = ["main"]


def _diagnose_case(i: int, folder: Path) -> tuple[str, object]:
    from workbench.backends.trt.parse import diagnose

    case = make_model_case(random.Random(i))
    path = case.write(folder)
    return case.describe(), lambda: diagnose(path)


def _engine_case(i: int, folder: Path, plan_dir: Path) -> tuple[str, object]:
    from workbench.backends.trt.runtime.engine import load_engine

    plan = (plan_dir / "engine.plan").read_bytes()
    card = json.loads((plan_dir / "engine.plan.json").read_text())
    new_plan, card_bytes, steps = make_engine_case(plan, card, random.Random(i))
    target = folder / "engine.plan"
    target.write_bytes(new_plan)
    if card_bytes is not None:
        (folder / "engine.plan.json").write_bytes(card_bytes)
    return ", ".join(steps), lambda: load_engine(target)


def main(argv: list[str]) -> int:
    target, start, stop = argv[0], int(argv[1]), int(argv[2])
    plan_dir = Path(argv[3]) if len(argv) > 3 else None
    warnings.simplefilter("ignore")  # "no engine card" warnings are expected here
    for i in range(start, stop):
        print(json.dumps({"start": i}), flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            if target == "diagnose":
                desc, call = _diagnose_case(i, folder)
            else:
                assert plan_dir is not None
                desc, call = _engine_case(i, folder, plan_dir)
            outcome = check_outcome(call, seconds=60)  # type: ignore[arg-type]
        print(json.dumps({"i": i, "kind": outcome.kind, "error": outcome.error,
                          "message": outcome.message[:500], "desc": desc}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
