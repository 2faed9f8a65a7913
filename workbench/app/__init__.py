"""Ring 3: the session and the work it runs, without widgets, by concern: ``session/`` (the
WorkbenchSession and its tasks), ``precision/`` (FP16/BF16 comparisons), ``quant/`` (INT8),
``share/`` (report, bug bundle, reproductions), ``overlays/`` (findings drawn on the graph),
``zoo/`` (triage of a folder of models). docs/DEVELOPING.md says where a new feature goes."""
