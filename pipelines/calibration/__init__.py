"""Calibration benchmark: the published method against simulated workflows with known truth.

``python -m pipelines.calibration`` (``make calibrate``) prints, per scenario, coverage,
confident verdicts on null metrics, value decisions on null workflows and safe endings
beside their targets (issue 11), and how often each story of the bundled sample comes out
right over ten seeds. ``worlds`` draws the scenarios (persistent week shocks, common shocks,
trends, staggered go-lives), ``harness`` runs every asset downstream of staging on each and
scores the result, ``sample_seeds`` builds the sample on other seeds.

``simulate`` and ``run`` are the v1 benchmark's simulator and direct code path, kept because
the measurement tests build their small warehouses with them.
"""
