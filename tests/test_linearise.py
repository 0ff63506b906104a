"""Linearisation internals that must not change a number: blocks, threads and Arrow buffers."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from retour import linearise
from retour.estimate import Design, EstimationSpec, estimate
from retour.linearise import design_df, design_variance, design_variance_and_df

KINDS = {"p1": "proportion", "p2": "proportion", "m1": "mean"}
DESIGN = Design("stratum", "psu", "weight")
LEVELS = {"migration_status": ("returnee", "non_migrant"), "sex": ("women", "men"),
          "age_band": ("15_24", "25_34"), "area_type": ("urban", "rural")}


def _survey(n: int = 3_000, seed: int = 4) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    community = rng.integers(0, 6, n)
    psu = community * 8 + rng.integers(0, 8, n)
    values = {
        "p1": (rng.random(n) < 0.3).astype(float),
        "p2": (rng.random(n) < 0.7).astype(float),
        "m1": rng.gamma(2.0, 2.0, n),
    }
    for column in values.values():
        column[rng.random(n) < 0.15] = np.nan
    return pl.DataFrame({
        "community_id": [f"c{c}" for c in community],
        "stratum": [f"s{c}" for c in community],
        "psu": [f"p{p}" for p in psu],
        "weight": rng.uniform(0.5, 2.5, n),
        "migration_status": pl.Series(["returnee", "non_migrant"]).gather(rng.integers(0, 2, n)),
        "sex": pl.Series(["women", "men", None]).gather(rng.integers(0, 3, n)),
        "age_band": pl.Series(["15_24", "25_34"]).gather(rng.integers(0, 2, n)),
        "area_type": pl.Series(["urban", "rural"]).gather(rng.integers(0, 2, n)),
        **values,
    }).with_columns(pl.col(c).fill_nan(None) for c in KINDS)


def _estimate(frame: pl.DataFrame) -> pl.DataFrame:
    return estimate(frame, list(KINDS), DESIGN, EstimationSpec(), groups=tuple(LEVELS), kinds=KINDS,
                    levels=LEVELS)


def test_blocks_and_threads_change_no_number(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = _survey()
    whole = _estimate(frame)
    monkeypatch.setattr(linearise, "_BLOCK_BYTES", 1)  # one indicator, and one row of pairs, per block
    assert linearise._blocks(3, 10) == [slice(0, 1), slice(1, 2), slice(2, 3)]
    assert _estimate(frame).equals(whole)
    monkeypatch.setattr(linearise, "_map_parallel", lambda work, items: [work(item) for item in items])
    assert _estimate(frame).equals(whole)


def test_sliced_and_chunked_frames_are_read_in_place() -> None:
    frame = _survey()
    sliced = frame.slice(13, 2_500)  # zero-copy: the Arrow buffers start at an offset of 13 rows
    assert sliced["p1"].to_arrow().offset == 13
    copied = pl.DataFrame({c: sliced[c].to_list() for c in sliced.columns}, schema=sliced.schema)
    assert _estimate(sliced).equals(_estimate(copied))
    chunked = pl.concat([frame.slice(0, 1_001), frame.slice(1_001)], rechunk=False)
    assert chunked["p1"].n_chunks() == 2
    assert _estimate(chunked).equals(_estimate(frame))


def test_variance_and_df_together_equal_each_alone() -> None:
    lin = linearise.linearise(_survey(), list(KINDS), DESIGN, ("community_id",), tuple(LEVELS), KINDS,
                              levels=LEVELS)
    args = (lin.layout, lin.pair_psu, lin.pair_domain)
    variance, df = design_variance_and_df(*args, lin.scores, lin.answered, lin.domains.height)
    np.testing.assert_array_equal(variance, design_variance(*args, lin.scores, lin.domains.height))
    np.testing.assert_array_equal(df, design_df(*args, lin.answered, lin.domains.height))
    assert np.isfinite(variance[lin.n >= 2]).all() and (df[lin.n >= 2] >= 0).all()
