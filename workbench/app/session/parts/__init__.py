"""The parts a ``WorkbenchSession`` is made of, one
small class per concern, each holding its own state and sharing one
``SessionState``: ``triage`` (parse diagnosis and the
fixes that open a new copy), ``builds``, ``engines`` (saved engines), ``runs`` (inputs and
inference), ``precision`` (FP16/BF16 against FP32), ``quant`` (INT8/FP8 Q/DQ), ``graph``
(Netron, Model Explorer, overlays) and ``share`` (report, bug bundle). A new workflow is a
new part here, its long methods marked ``@background(TaskKind.X, "doing it")`` so that
``session.start(session.part.method, ...)`` runs them in a Task.
"""
