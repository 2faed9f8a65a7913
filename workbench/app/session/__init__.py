"""The session: WorkbenchSession (state, events, no widgets) made of parts it owns
(``parts/``: triage, builds, engines, runs, precision, quant, graph, share) over one
SessionState (state.py); the ONE task abstraction (tasks.py, jobs.py) and ``session.start``
to run any part's ``@background`` method in it; runs and generated inputs. A new panel
action starts here as a method of a part.
"""
