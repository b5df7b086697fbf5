"""Measurement you can defend: weekly series, three views of each effect, and method checks.

Tables (docs/warehouse.md): ``marts.weekly_metrics``, ``marts.effect_views`` and
``marts.method_checks``. Method in words and formulas: docs/methods.md; calibration of the
estimators against simulated truth: ``python -m pipelines.calibration``.
"""
