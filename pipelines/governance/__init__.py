"""Governance: the stage funnel over time, exception paths, feedback loops and the ready-to-scale gate."""
