"""Difference-in-differences between programme beneficiaries and comparison respondents over two rounds.

The programme's effect on an indicator is estimated as the change among beneficiaries minus the
change among comparison respondents (Ashenfelter and Card 1985; Angrist and Pischke 2009, ch. 5):

    did = (ybar_B,to - ybar_B,from) - (ybar_C,to - ybar_C,from)

All four means come from the stacked, linearised rounds of `retour.rounds`, so their covariances are
kept: the linearised score of the estimate is z_B,to - z_B,from - z_C,to + z_C,from, summed per PSU,
and its variance is the stratified between-PSU variance of `retour.estimate`. Independent rounds add
nothing between rounds; in a panel, linked respondents carry their programme group back to the first
round (a baseline precedes the programme, so its questionnaire need not ask it) and their covariance
between rounds enters the variance. The interval is did +- t se with the degrees of freedom of the PSUs
answering in any of the four domains; the test is t = did / se.

The estimate is causal only under the parallel-trends assumption: without the programme, both groups
would have changed alike. This module is pure: no files, no store.

References: Ashenfelter, O. and Card, D. (1985) Rev. Econ. Stat. 67, 648-660. Angrist, J. D. and
Pischke, J.-S. (2009) Mostly Harmless Econometrics.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from retour.errors import EstimationError
from retour.estimate import standard_error
from retour.gaps import benjamini_hochberg
from retour.rounds import TREATMENT, StackedRounds, contrast, long_table, report_order, t_test

DID_COLUMNS = ("community_id", "indicator_id", "change_beneficiaries", "change_comparison", "did", "se",
               "ci_low", "ci_high", "statistic", "p_value", "p_adjusted", "df", "n_beneficiaries_from",
               "n_beneficiaries_to", "n_comparison_from", "n_comparison_to", "suppressed")
_CELLS = (("beneficiary", "0"), ("beneficiary", "1"), ("comparison", "0"), ("comparison", "1"))


def difference_in_differences(stacked: StackedRounds) -> pl.DataFrame:
    """The DID_COLUMNS table: one row per community (then all) x indicator.

    `stacked` must have been linearised with a `treatment` column. `suppressed` when any of the four
    groups has fewer than min_cell answers.
    """
    domains = stacked.domains.filter(pl.col("group_dimension") == TREATMENT)
    if domains.height == 0:
        raise EstimationError("The rounds were stacked without programme groups.",
                              "Pass the treatment column to rounds.linearise_rounds.")
    lin = stacked.lin
    cells = [domains.filter((pl.col("group") == group) & (pl.col("_round") == code))
             .select("community_id", pl.col("_row").alias(f"_{group}_{code}")) for group, code in _CELLS]
    _require_both_groups(lin.n, [cell[:, 1].to_numpy() for cell in cells])
    table = cells[0]
    for cell in cells[1:]:
        table = table.join(cell, on="community_id", maintain_order="left")
    rows = [table[f"_{group}_{code}"].to_numpy() for group, code in _CELLS]
    b_from, b_to, c_from, c_to = rows
    found = contrast(lin, [(b_to, 1.0), (b_from, -1.0), (c_to, -1.0), (c_from, 1.0)])
    se = standard_error(found.variance, found.scale)
    tested = t_test(found.estimate, se, found.df, stacked.confidence)
    counts = [lin.n[r] for r in rows]
    values = {"change_beneficiaries": lin.estimate[b_to] - lin.estimate[b_from],
              "change_comparison": lin.estimate[c_to] - lin.estimate[c_from],
              "did": found.estimate, "se": se, "ci_low": tested["ci_low"], "ci_high": tested["ci_high"],
              "statistic": tested["statistic"], "p_value": tested["p_value"],
              "p_adjusted": benjamini_hochberg(tested["p_value"]), "df": found.df,
              "n_beneficiaries_from": counts[0], "n_beneficiaries_to": counts[1],
              "n_comparison_from": counts[2], "n_comparison_to": counts[3],
              "suppressed": np.minimum.reduce(counts) < stacked.min_cell}
    labels = table.select("community_id", group_dimension=pl.lit("all"), group=pl.lit("all"))
    result = report_order(long_table(labels, lin.indicators, values))
    return result.select(DID_COLUMNS)


def _require_both_groups(n: np.ndarray, rows: list[np.ndarray]) -> None:
    """An EstimationError naming each round and group without any answer (`rows`: its domains)."""
    names = {"beneficiary": "beneficiaries", "comparison": "comparison respondents"}
    empty = [f"no {names[group]} in the {'first' if code == '0' else 'second'} round"
             for (group, code), cell in zip(_CELLS, rows, strict=True) if n[cell].sum() == 0]
    if empty:
        raise EstimationError(
            f"There are {' and '.join(empty)}: the difference-in-differences needs beneficiaries and "
            "comparison respondents in both rounds.",
            "Mark every respondent's programme group (the `beneficiary` field: yes or no) in both rounds, "
            "or link the rounds by case_id so that the first round takes the group recorded later.")
