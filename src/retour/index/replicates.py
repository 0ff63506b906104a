"""Survey-bootstrap replicate weights: the rescaled bootstrap of PSUs within strata (Rao and Wu).

In each stratum h with n_h PSUs, a replicate draws m_h = n_h - 1 PSUs with replacement (equal
probabilities); a PSU drawn c times has its respondents' weights multiplied by n_h / (n_h - 1) * c.
The multipliers of a stratum add up to n_h in every replicate, each has expectation 1, and all the
respondents of a PSU share one multiplier (PSUs are never split). A stratum with a single PSU cannot be
resampled: its multiplier stays 1 (it adds no sampling variance). A respondent with no PSU is its own PSU.

Weights are kept compact (one multiplier per PSU and replicate); `matrix()` expands them to the
(respondents x replicates) matrix. This module draws weights only; it estimates nothing.

References: Rao, J.N.K. and Wu, C.F.J. (1988), Resampling inference with complex survey data, *JASA* 83,
231-241; Rao, Wu and Yue (1992), *Survey Methodology* 18, 209-217.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from retour.errors import EstimationError


@dataclass(frozen=True)
class ReplicateWeights:
    """Replicate weights of n respondents: weight x multiplier of their PSU, for R replicates.

    weight (n,); psu (n,) position of each respondent's PSU; multipliers (PSUs, R); stratum (PSUs,)
    position of each PSU's stratum.
    """

    weight: np.ndarray
    psu: np.ndarray
    multipliers: np.ndarray
    stratum: np.ndarray

    @property
    def replicates(self) -> int:
        return int(self.multipliers.shape[1])

    def matrix(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Respondent-level replicate weights, shape (n, stop - start)."""
        return self.weight[:, None] * self.multipliers[self.psu, start:stop]


def design_positions(design: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights (n,), PSU position per respondent (n,) and stratum position per PSU, from the design columns.

    `design` has columns `weight`, and optionally `stratum` and `psu` (contract 3). PSUs are identified
    within their stratum; positions follow the sorted stratum and PSU labels, so they do not depend on
    the order of the rows.
    """
    if "weight" not in design.columns:
        raise EstimationError("The respondent data have no `weight` column.",
                              "Set [design] weight in retour.toml to the field holding the sampling weight.")
    weight = design["weight"].cast(pl.Float64).to_numpy()
    bad = ~np.isfinite(weight) | (weight < 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise EstimationError(f"{int(bad.sum())} respondent(s) have a missing or negative weight "
                              f"(first at row {row + 1}).",
                              "Every accepted submission needs a weight of 0 or more.")
    row_number = pl.int_range(pl.len()).cast(pl.Utf8)
    stratum = pl.col("stratum").cast(pl.Utf8).fill_null("") if "stratum" in design.columns else pl.lit("")
    psu = (pl.col("psu").cast(pl.Utf8).fill_null(pl.lit("\x00row") + row_number)
           if "psu" in design.columns else pl.lit("\x00row") + row_number)
    keys = design.select(stratum.alias("stratum"), psu.alias("psu"))
    units = keys.unique().sort("stratum", "psu").with_row_index("psu_position")
    psu_position = keys.join(units, on=["stratum", "psu"], how="left", maintain_order="left")["psu_position"]
    strata = units["stratum"].rank("dense").cast(pl.Int64).to_numpy() - 1
    return weight, psu_position.to_numpy().astype(np.int64), strata


def rescaled_bootstrap(design: pl.DataFrame, replicates: int, seed: int) -> ReplicateWeights:
    """Draw `replicates` sets of Rao-Wu rescaled-bootstrap weights (m_h = n_h - 1), seeded by `seed`.

    multiplier of PSU i in stratum h = n_h / (n_h - 1) * c_hi, with (c_h1, ..., c_hn_h) ~ Multinomial(n_h - 1,
    1/n_h each); replicate weight = weight x multiplier.
    """
    if replicates < 1:
        raise EstimationError(f"The bootstrap needs at least one replicate (got {replicates}).",
                              "Set index.bootstrap_replicates in retour.toml (default 500).")
    weight, psu, stratum = design_positions(design)
    rng = np.random.default_rng(seed)
    multipliers = np.ones((stratum.size, replicates))
    for h in range(int(stratum.max(initial=-1)) + 1):
        members = np.flatnonzero(stratum == h)
        size = members.size
        if size < 2:
            continue
        counts = rng.multinomial(size - 1, np.full(size, 1.0 / size), size=replicates)
        multipliers[members] = (counts * (size / (size - 1.0))).T
    return ReplicateWeights(weight=weight, psu=psu, multipliers=multipliers, stratum=stratum)
