"""The workflows of the synthetic sample: thirteen written stories, then generated ones for scale runs.

Each `Workflow` says what the registry shows (owner, stage, readiness fields), how much work
flows through it, what its baseline population looks like, and what the deployment does to
it: a true effect per metric, the adoption target and the share of post-period items done
with AI. The stories are ordered so that the first six already cover every quadrant; a run
with `--workflows N` keeps the first N stories and, beyond thirteen, adds generated workflows
that cycle through the same archetypes with drawn parameters.
"""

from __future__ import annotations

import datetime as dt
import typing
from dataclasses import dataclass, field

import numpy as np

import schemas
from pipelines.metrics.rules import Quadrant

# The contract's metric names and the quadrants the pipeline assigns, defined once elsewhere.
METRICS = tuple(schemas.METRICS)
QUADRANTS = typing.get_args(Quadrant)
ADOPTED_AT = 0.5
"""adoption_rate at or above which METHODS.md calls a workflow adopted."""


@dataclass
class Workflow:
    """One workflow: its registry row, its volume, its baseline population and its deployment."""

    workflow_id: str
    name: str
    prefix: str
    """Item id prefix, e.g. `CLM` gives `CLM-000123`."""
    team: str
    business_owner: str | None
    stage: str
    """Stage as written in the registry (case varies on purpose; the pipeline lowercases)."""
    story: str
    """Intended quadrant: one of QUADRANTS."""
    narrative: str
    deployed_on: dt.date | None = None
    eligible_users: int = 0
    risk_tier: str | None = "medium"
    primary_metric: str | None = "cycle_time_hours"
    """None is written blank, which the pipeline reads as cycle_time_hours."""
    target_change_pct: float | None = -20.0
    review_point: str | None = "Team lead reviews a weekly sample"
    support_path: str | None = "#ai-helpdesk, then the platform on-call"
    data_scope: str | None = "Case records of the team's own queue"
    # Volume.
    rate: float = 5.0
    """Items opened per working day (weekends and holidays get a small share of that)."""
    fixed_rate: bool = False
    """Keep `rate` when --items rescales the catalogue (the insufficient-data story stays small)."""
    # Baseline population (before any effect).
    cycle_median_hours: float = 24.0
    cycle_sigma: float = 0.9
    hard_share: float = 0.35
    """Share of complex items: slower, more rework, more errors, more touchpoints and spend."""
    rework_rate: float = 0.12
    error_rate: float = 0.05
    touchpoints_mean: float = 4.0
    spend_share: float = 0.1
    """Share of items with any external spend."""
    spend_scale: float = 150.0
    """Typical non-zero spend (median of an easy item's amount)."""
    # Deployment.
    adoption: float = 0.0
    """Target adoption_rate: adopters / eligible users."""
    assisted_share: float = 0.0
    """Target share of post-period items done with AI while the tool is live."""
    selection: float = 1.5
    """P(assisted | easy item) / P(assisted | complex item): people pick easy items first."""
    effects: dict[str, float] = field(default_factory=dict)
    """True change, in percent, of each metric's population value (METHODS.md definitions)."""
    effect_on: str = "assisted"
    """`assisted`: only AI-assisted post items change (scaled so the population moves by the
    stated percent); `all`: every post item changes (e.g. a process change made at go-live)."""
    tool_retired_on: dt.date | None = None
    """Last day the AI tool was available (retired workflows); no usage or assistance after."""
    activity: float = 0.35
    """Mean share of working days on which an adopter uses the tool."""
    actions_mean: float = 4.0
    ts_weights: tuple[float, float, float] = (0.6, 0.2, 0.2)
    """How timestamps are written: share with `Z`, with `+02:00`, without a zone (UTC)."""

    @property
    def deployed(self) -> bool:
        """Whether the workflow has a go-live date (otherwise it is a comparison workflow)."""
        return self.deployed_on is not None

    @property
    def primary(self) -> str:
        """The primary metric after the registry's default."""
        return self.primary_metric or "cycle_time_hours"

    def effect(self, metric: str) -> float:
        """True change of `metric` as a fraction (-0.3 for -30%)."""
        return self.effects.get(metric, 0.0) / 100.0


# Money columns of the written stories' registry rows (issue 14), as the registry writes them:
# currency, cost_per_hour (of an item's waiting time), cost_per_rework, cost_per_error,
# cost_per_touchpoint, tool_cost_per_user_month. meeting_minutes has none, so the dashboard
# shows its savings in units only; it_tickets leaves currency blank (USD by default) and
# purchase_orders is priced in EUR, so the portfolio shows two currencies side by side.
SAMPLE_COSTS: dict[str, tuple[str | None, float, float, float, float, float]] = {
    "claims_triage": ("USD", 1.5, 85, 240, 12, 35),
    "invoice_match": ("USD", 0.4, 45, 180, 8, 30),
    "kyc_review": ("USD", 2.0, 120, 900, 15, 45),
    "marketing_copy": ("USD", 0.2, 60, 150, 10, 25),
    "contract_redline": ("USD", 3.0, 200, 500, 25, 60),
    "it_tickets": (None, 0.8, 40, 90, 9, 20),
    "customer_replies": ("USD", 1.0, 25, 75, 5, 20),
    "purchase_orders": ("EUR", 0.5, 35, 110, 9, 30),
    "expense_audit": ("USD", 0.3, 30, 60, 6, 25),
}


def stories(start: dt.date) -> list[Workflow]:
    """The thirteen written workflows; dates are offsets from `start` so any start works.

    With the default start (Monday 2025-11-03) the go-live dates are Mondays in 2026, each
    with more than 90 days of baseline before it.
    """

    def day(offset: int) -> dt.date:
        return start + dt.timedelta(days=offset)

    return [
        Workflow(
            workflow_id="claims_triage",
            name="Claims intake triage",
            prefix="CLM",
            team="Claims Operations",
            business_owner="Priya Raman",
            stage="production",
            story="value_with_adoption",
            narrative="The clear win: most handlers use the assistant and claims are triaged about "
            "40% faster with less rework and fewer hand-offs.",
            deployed_on=day(91),
            eligible_users=40,
            risk_tier="medium",
            primary_metric="cycle_time_hours",
            target_change_pct=-25,
            review_point="Senior handler signs off every triage decision",
            support_path="#claims-ai channel, then the platform on-call",
            data_scope="Claim forms and attachments; no payment data",
            rate=12.0,
            cycle_median_hours=30,
            cycle_sigma=0.9,
            rework_rate=0.14,
            error_rate=0.05,
            touchpoints_mean=4.5,
            spend_share=0.1,
            spend_scale=150,
            adoption=0.85,
            assisted_share=0.70,
            effects={"cycle_time_hours": -40, "rework_rate": -40, "touchpoints_per_item": -20},
            activity=0.45,
            actions_mean=6,
            ts_weights=(0.8, 0.0, 0.2),
        ),
        Workflow(
            workflow_id="invoice_match",
            name="Supplier invoice matching",
            prefix="INV",
            team="Finance Operations",
            business_owner="Tomás Herrera",
            stage="Production",
            story="adoption_without_value",
            narrative="The key story: nine in ten clerks use the tool every week and 80% of invoices "
            "are AI-assisted, yet nothing about the work changed. Assisted invoices look faster only "
            "because clerks pick the easy ones (a self-selected comparison).",
            deployed_on=day(119),
            eligible_users=60,
            risk_tier="low",
            primary_metric=None,
            target_change_pct=-30,
            review_point="AP lead approves matches above 10,000",
            support_path="Finance systems desk",
            data_scope="Invoices, purchase orders and supplier master data",
            rate=10.0,
            cycle_median_hours=20,
            cycle_sigma=0.8,
            rework_rate=0.08,
            error_rate=0.03,
            touchpoints_mean=3.2,
            spend_share=0.03,
            spend_scale=60,
            adoption=0.90,
            assisted_share=0.80,
            selection=3.0,
            effects={},
            activity=0.6,
            actions_mean=12,
            ts_weights=(0.1, 0.8, 0.1),
        ),
        Workflow(
            workflow_id="kyc_review",
            name="KYC document review",
            prefix="KYC",
            team="Compliance",
            business_owner="Aisha Bello",
            stage="production",
            story="value_without_adoption",
            narrative="Errors fell by 60% and reviews got faster, but only about a quarter of reviewers use "
            "the tool: the change came with a new checklist introduced at go-live, not from the AI.",
            deployed_on=day(154),
            eligible_users=25,
            risk_tier="High",
            primary_metric="error_rate",
            target_change_pct=-30,
            review_point="Four-eyes check on every onboarding decision",
            support_path="Compliance tooling team",
            data_scope="Identity documents of applicants; retained 30 days",
            rate=16.0,
            cycle_median_hours=48,
            cycle_sigma=0.7,
            rework_rate=0.10,
            error_rate=0.25,
            touchpoints_mean=3.5,
            spend_share=0.15,
            spend_scale=40,
            adoption=0.28,
            assisted_share=0.15,
            effects={"error_rate": -60, "cycle_time_hours": -20},
            effect_on="all",
            activity=0.2,
            actions_mean=3,
            ts_weights=(0.4, 0.3, 0.3),
        ),
        Workflow(
            workflow_id="marketing_copy",
            name="Marketing copy drafts",
            prefix="MKT",
            team="Marketing",
            business_owner="Jonas Weber",
            stage="pilot",
            story="no_value_no_adoption",
            narrative="Few writers use the tool and agency spend per brief did not move.",
            deployed_on=day(133),
            eligible_users=30,
            risk_tier="low",
            primary_metric="external_spend_per_item",
            target_change_pct=-25,
            review_point="Brand manager approves all copy",
            support_path=None,
            data_scope="Public product information only",
            rate=4.0,
            cycle_median_hours=72,
            cycle_sigma=0.8,
            rework_rate=0.25,
            error_rate=0.04,
            touchpoints_mean=5.0,
            spend_share=0.6,
            spend_scale=400,
            adoption=0.20,
            assisted_share=0.12,
            effects={},
            activity=0.2,
            actions_mean=5,
            ts_weights=(0.5, 0.0, 0.5),
        ),
        Workflow(
            workflow_id="vendor_onboarding",
            name="Vendor onboarding",
            prefix="VND",
            team="Procurement",
            business_owner=None,
            stage="investigation",
            story="not_deployed",
            narrative="Not deployed: being measured before any decision, and a comparison workflow "
            "for difference-in-differences. Nobody owns it yet and it has no support path.",
            eligible_users=0,
            risk_tier="medium",
            primary_metric="cycle_time_hours",
            target_change_pct=None,
            review_point=None,
            support_path=None,
            data_scope=None,
            rate=10.0,
            cycle_median_hours=96,
            cycle_sigma=0.8,
            rework_rate=0.25,
            error_rate=0.15,
            touchpoints_mean=6.0,
            spend_share=0.2,
            spend_scale=120,
            ts_weights=(0.3, 0.4, 0.3),
        ),
        Workflow(
            workflow_id="contract_redline",
            name="Contract redlining",
            prefix="CTR",
            team="Legal",
            business_owner="Elena Petrova",
            stage="pilot",
            story="insufficient_data",
            narrative="Went live six weeks before the data ends and handles a few contracts a week: too "
            "few closed items after go-live to say anything yet. High risk, and no review point registered.",
            deployed_on=day(322),
            eligible_users=12,
            risk_tier="high",
            primary_metric="cycle_time_hours",
            target_change_pct=-30,
            review_point=None,
            support_path="Legal ops",
            data_scope="Counterparty contracts under NDA",
            rate=0.7,
            fixed_rate=True,
            cycle_median_hours=100,
            cycle_sigma=0.7,
            rework_rate=0.3,
            error_rate=0.05,
            touchpoints_mean=5.0,
            spend_share=0.3,
            spend_scale=800,
            adoption=0.6,
            assisted_share=0.5,
            effects={"cycle_time_hours": -25},
            activity=0.3,
            actions_mean=8,
            ts_weights=(0.6, 0.2, 0.2),
        ),
        Workflow(
            workflow_id="it_tickets",
            name="IT service desk tickets",
            prefix="ITS",
            team="IT Support",
            business_owner="Marcus Lee",
            stage="production",
            story="value_with_adoption",
            narrative="Agents use suggested fixes; reopened tickets fell by almost half and tickets close faster.",
            deployed_on=day(182),
            eligible_users=35,
            risk_tier="low",
            primary_metric="rework_rate",
            target_change_pct=-25,
            review_point="Agent confirms every suggested fix",
            support_path="Service desk tooling team",
            data_scope="Ticket text and the knowledge base",
            rate=20.0,
            cycle_median_hours=10,
            cycle_sigma=1.1,
            rework_rate=0.30,
            error_rate=0.03,
            touchpoints_mean=3.0,
            spend_share=0.05,
            spend_scale=90,
            adoption=0.70,
            assisted_share=0.60,
            effects={"rework_rate": -45, "cycle_time_hours": -25},
            activity=0.5,
            actions_mean=7,
            ts_weights=(0.7, 0.1, 0.2),
        ),
        Workflow(
            workflow_id="customer_replies",
            name="Customer email replies",
            prefix="CSR",
            team="Customer Service",
            business_owner="Sofia Marin",
            stage="production",
            story="value_with_adoption",
            narrative="Replies go out 40% faster with AI drafts, but more of them contain errors: a "
            "speed gain with a worsened guardrail, to be flagged rather than celebrated.",
            deployed_on=day(168),
            eligible_users=50,
            risk_tier="medium",
            primary_metric="cycle_time_hours",
            target_change_pct=-20,
            review_point="Agent edits and sends every draft",
            support_path="#cs-tools",
            data_scope="Customer emails and order history",
            rate=16.0,
            cycle_median_hours=6,
            cycle_sigma=1.0,
            rework_rate=0.06,
            error_rate=0.08,
            touchpoints_mean=2.5,
            spend_share=0.02,
            spend_scale=25,
            adoption=0.78,
            assisted_share=0.65,
            effects={"cycle_time_hours": -40, "error_rate": 75},
            activity=0.5,
            actions_mean=10,
            ts_weights=(0.3, 0.4, 0.3),
        ),
        Workflow(
            workflow_id="purchase_orders",
            name="Purchase order creation",
            prefix="PUR",
            team="Procurement",
            business_owner="Daniel Okafor",
            stage="pilot",
            story="adoption_without_value",
            narrative="Buyers adopted AI-drafted purchase orders, and orders now need more hand-offs "
            "to fix: adoption with a worsened primary metric.",
            deployed_on=day(210),
            eligible_users=20,
            risk_tier="low",
            primary_metric="touchpoints_per_item",
            target_change_pct=-20,
            review_point="Budget holder approves each order",
            support_path="Procurement systems",
            data_scope=None,
            rate=7.0,
            cycle_median_hours=16,
            cycle_sigma=0.8,
            rework_rate=0.10,
            error_rate=0.04,
            touchpoints_mean=4.0,
            spend_share=0.05,
            spend_scale=70,
            adoption=0.65,
            assisted_share=0.55,
            effects={"touchpoints_per_item": 15},
            activity=0.4,
            actions_mean=5,
            ts_weights=(0.2, 0.6, 0.2),
        ),
        Workflow(
            workflow_id="meeting_minutes",
            name="Meeting minutes drafting",
            prefix="MIN",
            team="Operations",
            business_owner="Hannah Schultz",
            stage="retired",
            story="no_value_no_adoption",
            narrative="Piloted, little used, no change in turnaround; the tool was switched off at the "
            "end of July and the workflow is retired.",
            deployed_on=day(105),
            eligible_users=45,
            risk_tier="low",
            primary_metric="cycle_time_hours",
            target_change_pct=-40,
            review_point="Meeting chair approves minutes",
            support_path="Workplace IT",
            data_scope="Meeting transcripts of internal meetings",
            rate=5.0,
            cycle_median_hours=26,
            cycle_sigma=0.9,
            rework_rate=0.10,
            error_rate=0.03,
            touchpoints_mean=2.5,
            spend_share=0.06,
            spend_scale=45,
            adoption=0.35,
            assisted_share=0.25,
            effects={},
            tool_retired_on=day(270),
            activity=0.25,
            actions_mean=3,
            ts_weights=(0.9, 0.0, 0.1),
        ),
        Workflow(
            workflow_id="expense_audit",
            name="Expense report audit",
            prefix="EXP",
            team="Finance Operations",
            business_owner="Lena Fischer",
            stage="investigation",
            story="not_deployed",
            narrative="Not deployed: a second comparison workflow with a steady baseline.",
            risk_tier="low",
            primary_metric="error_rate",
            target_change_pct=-25,
            review_point="Finance controller samples audits monthly",
            support_path="Finance systems desk",
            data_scope="Expense reports and receipts",
            rate=10.0,
            cycle_median_hours=36,
            cycle_sigma=0.8,
            rework_rate=0.22,
            error_rate=0.20,
            touchpoints_mean=3.0,
            spend_share=0.04,
            spend_scale=80,
            ts_weights=(0.2, 0.2, 0.6),
        ),
        Workflow(
            workflow_id="hr_queries",
            name="Employee HR queries",
            prefix="HRQ",
            team="People Team",
            business_owner="Grace Kim",
            stage="investigation",
            story="not_deployed",
            narrative="Registered idea with no readiness fields filled in; its queries are measured "
            "before any decision, a third comparison workflow for difference-in-differences.",
            risk_tier=None,
            primary_metric="cycle_time_hours",
            target_change_pct=None,
            review_point=None,
            support_path=None,
            data_scope=None,
            rate=10.0,
            cycle_median_hours=20,
            cycle_sigma=0.9,
            rework_rate=0.20,
            error_rate=0.14,
            touchpoints_mean=2.8,
            spend_share=0.02,
            spend_scale=50,
            ts_weights=(0.5, 0.3, 0.2),
        ),
        Workflow(
            workflow_id="facilities_requests",
            name="Facilities requests",
            prefix="FAC",
            team="Workplace Services",
            business_owner="Omar Farouk",
            stage="investigation",
            story="not_deployed",
            narrative="Not deployed: a fourth comparison workflow, so the difference-in-differences can "
            "check every value claim (it needs at least three with data before and after go-live).",
            risk_tier="low",
            primary_metric="cycle_time_hours",
            target_change_pct=None,
            review_point=None,
            support_path="Workplace IT",
            data_scope="Room, repair and access requests",
            rate=10.0,
            cycle_median_hours=40,
            cycle_sigma=0.8,
            rework_rate=0.24,
            error_rate=0.16,
            touchpoints_mean=3.5,
            spend_share=0.25,
            spend_scale=90,
            ts_weights=(0.6, 0.1, 0.3),
        ),
    ]


ARCHETYPES = (
    "value_with_adoption",
    "adoption_without_value",
    "value_without_adoption",
    "no_value_no_adoption",
    "not_deployed",
    "value_with_adoption",
    "adoption_without_value",
)
TEAMS = (
    "Operations",
    "Finance Operations",
    "Customer Service",
    "IT Support",
    "Compliance",
    "Procurement",
    "Sales Ops",
    "Legal",
)
OWNERS = ("Ana Souza", "Ben Carter", "Chen Wei", "Dana Levi", "Emeka Obi", "Farah Haddad", "Gustav Lind", "Ines Moreau")


def generated_workflow(index: int, rng: np.random.Generator, start: dt.date, end: dt.date) -> Workflow:
    """A drawn workflow for scale runs; its archetype cycles so every quadrant stays covered."""
    story = ARCHETYPES[index % len(ARCHETYPES)]
    team = TEAMS[rng.integers(len(TEAMS))]
    primary = METRICS[rng.choice(len(METRICS), p=[0.4, 0.15, 0.15, 0.15, 0.15])]
    spend_share = float(rng.uniform(0.05, 0.5))
    base = dict(
        workflow_id=f"wf_{index + 1:04d}",
        name=f"Workflow {index + 1:04d}",
        prefix=f"W{index + 1:04d}",
        team=team,
        business_owner=None if rng.random() < 0.1 else OWNERS[rng.integers(len(OWNERS))],
        story=story,
        narrative=f"Generated {story.replace('_', ' ')} workflow.",
        risk_tier=("low", "medium", "high")[rng.integers(3)],
        primary_metric=primary,
        target_change_pct=float(-5 * rng.integers(2, 8)),
        review_point=None if rng.random() < 0.15 else "Team lead reviews a weekly sample",
        support_path=None if rng.random() < 0.15 else "#ai-helpdesk",
        data_scope=None if rng.random() < 0.15 else "The team's own case records",
        rate=float(rng.lognormal(np.log(5.0), 0.6)),
        cycle_median_hours=float(rng.uniform(4, 96)),
        cycle_sigma=float(rng.uniform(0.6, 1.1)),
        hard_share=float(rng.uniform(0.2, 0.45)),
        rework_rate=float(rng.uniform(0.06, 0.25)),
        error_rate=float(rng.uniform(0.03, 0.12)),
        touchpoints_mean=float(rng.uniform(2.5, 6.0)),
        spend_share=spend_share,
        spend_scale=float(rng.uniform(20, 500)),
        ts_weights=tuple(rng.dirichlet([2.0, 1.0, 1.0])),
    )
    if story == "not_deployed":
        return Workflow(stage="investigation", **base)
    # Go-live on a Monday, with at least 91 days of baseline and 60 days of post period.
    first, last = start + dt.timedelta(days=91), end - dt.timedelta(days=60)
    deployed = first + dt.timedelta(days=int(rng.integers(0, max(1, (last - first).days))))
    deployed -= dt.timedelta(days=deployed.weekday())
    if deployed < first:
        deployed += dt.timedelta(days=7)
    adopted = story in ("value_with_adoption", "adoption_without_value")
    adoption = float(rng.uniform(0.55, 0.95) if adopted else rng.uniform(0.05, 0.4))
    effects: dict[str, float] = {}
    if story in ("value_with_adoption", "value_without_adoption"):
        effects[primary] = float(-rng.integers(15, 41))
    elif story == "adoption_without_value" and rng.random() < 0.3:
        effects[primary] = float(rng.integers(10, 21))
    retired = story == "no_value_no_adoption" and rng.random() < 0.3
    rate = base["rate"]
    return Workflow(
        eligible_users=max(10, round(2.5 * rate)),
        stage="retired" if retired else ("production" if rng.random() < 0.65 else "pilot"),
        deployed_on=deployed,
        adoption=adoption,
        assisted_share=float(min(0.9, adoption * rng.uniform(0.7, 1.0))),
        effects=effects,
        effect_on="assisted" if adopted else "all",
        tool_retired_on=(deployed + dt.timedelta(days=int((end - deployed).days * 0.6))) if retired else None,
        activity=float(rng.uniform(0.2, 0.6)),
        actions_mean=float(rng.uniform(2, 12)),
        **base,
    )


def build_catalogue(n_workflows: int, seed: int, start: dt.date, end: dt.date) -> list[Workflow]:
    """The first `n_workflows` stories, then generated workflows up to `n_workflows`."""
    written = stories(start)
    catalogue = written[:n_workflows]
    rng = np.random.default_rng([seed, 5])
    for index in range(len(written), n_workflows):
        catalogue.append(generated_workflow(index, rng, start, end))
    return catalogue
