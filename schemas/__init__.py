"""pandera models, one per input source. The data contract in docs/data-contract.md mirrors them."""

from schemas.usage import Usage
from schemas.work_items import WorkItems
from schemas.workflows import DEFAULT_PRIMARY_METRIC, METRICS, RISK_TIERS, STAGES, WorkflowRegistry

__all__ = ["DEFAULT_PRIMARY_METRIC", "METRICS", "RISK_TIERS", "STAGES", "Usage", "WorkItems", "WorkflowRegistry"]
