"""The analysis views of a run (issue 25): spectrum, when each detail is decided, exposure bias, the ladder.

Each view takes numpy arrays or frames and a schedule and paints with pyqtgraph; the maths is
:mod:`core.analysis`. :func:`app.views.analysis.dock.add_analysis_dock` wires them into the window.
"""
