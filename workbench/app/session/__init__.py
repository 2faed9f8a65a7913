"""The session: WorkbenchSession (state, events, no widgets) in parts (core: model and
triage; build: builds, profiles, engines; quant: INT8), the ONE task abstraction (tasks.py,
jobs.py), runs and generated inputs. A new panel action starts here as a session method.
"""
