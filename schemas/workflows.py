"""The workflow registry: who owns each AI workflow, where it stands, and what success means."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

STAGES = ["investigation", "pilot", "production", "retired"]
"""Lifecycle stages in order; the one list the schema, the stage history and the funnel use."""
FUNNEL = ("investigation", "pilot", "production")
"""The stages a workflow converts through, in order (retired leaves the funnel)."""
RISK_TIERS = ["low", "medium", "high"]
METRICS = [
    "cycle_time_hours",
    "rework_rate",
    "error_rate",
    "touchpoints_per_item",
    "external_spend_per_item",
]
DEFAULT_PRIMARY_METRIC = "cycle_time_hours"
DEFAULT_CURRENCY = "USD"
# ISO 4217 active alphabetic codes (the standard's list, 2024), so a typo is caught here.
ISO_4217_CODES = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD
    CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF
    GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP
    LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB
    PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL
    THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW
    ZWG""".split()
)
COST_COLUMNS = ("cost_per_hour", "cost_per_rework", "cost_per_error", "cost_per_touchpoint", "tool_cost_per_user_month")
"""Optional money rates in the registry's `currency`; blank means unknown, never zero."""
MAX_RATE = 1_000_000_000
"""Largest rate accepted: larger is a unit mix-up, and money is stored as DECIMAL."""


class WorkflowRegistry(pa.DataFrameModel):
    """One row per workflow, as the business registers it (`workflows.csv`)."""

    workflow_id: str = pa.Field(
        nullable=False,
        str_length={"min_value": 1},
        description="Stable identifier; the key every other source joins on.",
    )
    name: str = pa.Field(nullable=False, description="Human name shown on the dashboard.")
    business_owner: str = pa.Field(
        nullable=True, description="Accountable business owner; blank means nobody owns it yet (a readiness gap)."
    )
    team: str = pa.Field(nullable=True, description="Team that runs the workflow.")
    stage: str = pa.Field(
        nullable=False,
        isin=STAGES,
        description="Lifecycle stage: investigation, pilot, production or retired (case-insensitive).",
    )
    deployed_on: pl.Date = pa.Field(
        nullable=True,
        description="Go-live date of the AI assistance; blank means not deployed, so a comparison workflow.",
    )
    eligible_users: int = pa.Field(
        nullable=True,
        ge=0,
        description="Users who may use the AI tool; the adoption denominator. Required when deployed_on is set.",
    )
    risk_tier: str = pa.Field(
        nullable=True, isin=RISK_TIERS, description="Risk tier: low, medium or high (case-insensitive)."
    )
    primary_metric: str = pa.Field(
        nullable=False,
        isin=METRICS,
        description="The metric that decides whether the workflow shows value; blank means cycle_time_hours.",
    )
    target_change_pct: float = pa.Field(
        nullable=True, description="Success target as a percent change of the primary metric, e.g. -20."
    )
    review_point: str = pa.Field(
        nullable=True, description="Where a human reviews the AI's output; blank means missing."
    )
    support_path: str = pa.Field(nullable=True, description="Who users call when it breaks; blank means missing.")
    data_scope: str = pa.Field(nullable=True, description="What data the AI may touch; blank means missing.")
    data_through: pl.Date = pa.Field(
        nullable=True,
        description="Optional column: the last day the workflow's exports are complete (its data cutoff, ISO date); blank means derive it from the data.",
    )
    currency: str = pa.Field(
        nullable=False,
        description="ISO 4217 code of every money column of this workflow (rates and external_spend); blank or absent means USD.",
    )
    cost_per_hour: float = pa.Field(
        nullable=True,
        ge=0,
        le=MAX_RATE,
        description="Cost of one hour an item waits (elapsed time from opened to closed), not a staff wage; blank means unknown.",
    )
    cost_per_rework: float = pa.Field(
        nullable=True, ge=0, le=MAX_RATE, description="Cost of one item that needs rework; blank means unknown."
    )
    cost_per_error: float = pa.Field(
        nullable=True, ge=0, le=MAX_RATE, description="Cost of one item with an error; blank means unknown."
    )
    cost_per_touchpoint: float = pa.Field(
        nullable=True, ge=0, le=MAX_RATE, description="Cost of one hand-off (touchpoint); blank means unknown."
    )
    tool_cost_per_user_month: float = pa.Field(
        nullable=True,
        ge=0,
        le=MAX_RATE,
        description="Licence and running cost of the AI tool per eligible user per month; blank means unknown.",
    )
    # Governance columns (issue 13); all optional, see docs/data-contract.md "Governance".
    exception_path: str = pa.Field(
        nullable=True,
        description="Optional: where an exception goes (who decides, where it is logged); blank means missing.",
    )
    target_set_on: pl.Date = pa.Field(
        nullable=True,
        description="Optional: date the success target was agreed; after deployed_on it is flagged 'set after the results'.",
    )
    baseline_frozen_on: pl.Date = pa.Field(
        nullable=True,
        description="Optional: date the baseline was frozen; later builds compare against the baseline recorded then.",
    )
    last_reviewed_on: pl.Date = pa.Field(nullable=True, description="Optional: date of the last governance review.")
    review_every_days: int = pa.Field(
        nullable=True,
        ge=1,
        description="Optional: days between reviews; a review older than this is overdue (a readiness gap).",
    )

    class Config:
        strict = True
        coerce = True

    @pa.check("currency", name="iso_4217_currency_code")
    def currency_is_iso_4217(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """A currency must be an active ISO 4217 code in capitals (USD, EUR, GBP, ...)."""
        return data.lazyframe.select(pl.col(data.key).is_in(sorted(ISO_4217_CODES)))

    @pa.dataframe_check(name="eligible_users_required_when_deployed")
    def eligible_users_when_deployed(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """A deployed workflow needs a denominator for its adoption rate."""
        return data.lazyframe.select(pl.col("deployed_on").is_null() | pl.col("eligible_users").is_not_null())
