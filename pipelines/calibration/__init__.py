"""Calibration benchmark: the pipeline's estimators against simulated workflows with known truth.

``python -m pipelines.calibration`` (``make calibrate``) prints, per scenario and method, the
coverage of the 95% intervals, the false-positive rate where nothing changed and the median
bias; docs/methods.md keeps the latest full run. ``simulate`` draws the worlds, ``run`` pushes
them through the marts' code path and scores the result.
"""
