"""The preprocessing decisions, each stated with the numbers measured on this run's data.

The report quotes these notes next to the data quirks they handle, so every sentence about the
data carries a figure the pipeline computed rather than one written into a docstring.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from schemas.columns import AMOUNT_COLUMNS
from schemas.features import PAYMENTS_TO_MINIMUM_CAP, UTILISATION_CAP
from schemas.raw import breaks_soft_rule
from tasks.segmentation.features import FeatureEngineer


def feature_notes(clean: pd.DataFrame) -> list[str]:
    """One sentence per decision, with counts from `clean` and what the engineer learned on it."""
    engineer = FeatureEngineer().fit(clean)
    minimum_missing = breaks_soft_rule(clean, "minimum_payments_missing")
    paid_nothing = int((minimum_missing & (clean["PAYMENTS"] == 0)).sum())
    limit_missing = int(breaks_soft_rule(clean, "credit_limit_missing").sum())
    short_tenure = float((clean["TENURE"] < 12).mean())
    over_one = int(breaks_soft_rule(clean, "frequency_above_one").sum())
    split_mismatches = int(breaks_soft_rule(clean, "purchases_split_mismatch").sum())
    skew = clean[list(AMOUNT_COLUMNS)].skew().median()
    utilisation = clean["BALANCE"] / clean["CREDIT_LIMIT"]
    to_minimum = clean["PAYMENTS"] / clean["MINIMUM_PAYMENTS"]
    amount_no_trx = int(((clean["PURCHASES"] > 0) & (clean["PURCHASES_TRX"] == 0)).sum())
    trx_no_amount = int(((clean["PURCHASES"] == 0) & (clean["PURCHASES_TRX"] > 0)).sum())
    return [
        f"MINIMUM_PAYMENTS empty for {int(minimum_missing.sum()):,} customers: {paid_nothing:,} "
        "paid nothing, so no minimum was due and it is set to 0 by meaning; the other "
        f"{int(minimum_missing.sum()) - paid_nothing:,} get the median recorded minimum of their "
        "balance decile (minimums rise with balance).",
        f"CREDIT_LIMIT empty for {limit_missing:,} customer(s): filled with the larger of their "
        f"balance and the median limit ({engineer.credit_limit_median_:,.0f}).",
        f"Amounts and transaction counts are divided by TENURE (per month): {short_tenure:.1%} "
        "of customers were observed for fewer than 12 months.",
        "Ticket sizes divide an amount by its transaction count, at least 1: the "
        f"{amount_no_trx:,} customers with purchases but no purchase transaction count as one "
        f"ticket of the whole amount, and the {trx_no_amount:,} with transactions but no amount "
        "get a ticket of 0.",
        f"Frequencies above 1 are set to 1: {over_one:,} customer(s) had one.",
        f"The purchase split uses ONEOFF + INSTALLMENTS, because {split_mismatches:,} rows "
        "disagree with their own PURCHASES total.",
        f"Amounts are heavily skewed (median skewness {skew:.1f}), so amounts, monthly rates, "
        "tickets and the payment-to-minimum ratio enter the models as log1p; zeros stay 0.",
        f"Utilisation (balance / limit) is capped at {UTILISATION_CAP:g}: "
        f"{int((utilisation > 1).sum()):,} customers are over the limit, "
        f"{int((utilisation > UTILISATION_CAP).sum()):,} beyond the cap.",
        f"payments_to_minimum is capped at {PAYMENTS_TO_MINIMUM_CAP:g} "
        f"({int((to_minimum > PAYMENTS_TO_MINIMUM_CAP).sum()):,} customers above it); "
        f"{int((to_minimum < 1).sum()):,} paid less than the minimum, a delinquency signal kept "
        "as it is.",
        "Extreme amounts are real customers and are kept: log1p compresses the tails instead of "
        f"clipping them (largest PURCHASES {np.nanmax(clean['PURCHASES']):,.0f}).",
        "Every model input is standard-scaled: robust scaling was rejected because interquartile "
        "ranges are degenerate for zero-heavy columns such as PRC_FULL_PAYMENT.",
    ]
