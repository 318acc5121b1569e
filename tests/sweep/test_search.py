"""weights.json's entries (``sweep.search``)."""

import json

from ganinverse.sweep.search import edge_of, entry


def test_an_entry_records_a_weight_chosen_at_an_edge_of_its_grid():
    """User trial: Lasso's λ chosen at the largest default candidate, the validation MSE
    still falling toward it, was warned on the searching run only: weights.json said
    nothing. Each entry now says which edge (null: none), and one written before the field
    is judged from its validation MSEs."""
    falling = [(0.3, 0.05), (1.0, 0.04), (3.0, 0.03)]
    top = entry("lam", 3.0, falling, 4, 1.0)
    assert top["grid_edge"] == "largest" and edge_of(top) == "largest"
    inside = entry("lam", 1.0, [(0.3, 0.05), (1.0, 0.02), (3.0, 0.03)], 4, 1.0)
    assert inside["grid_edge"] is None and edge_of(inside) is None
    low = entry("lam", 0.3, [(0.3, 0.01), (1.0, float("nan")), (3.0, 0.03)], 4, 1.0)
    assert low["grid_edge"] is None  # (a diverged neighbour: no trend)
    rising = [(0.3, 0.01), (1.0, 0.02), (3.0, 0.03)]
    assert entry("lam", 0.3, rising, 4, 1.0)["grid_edge"] == "smallest"
    old = json.loads(json.dumps(top))  # (as read back from the file)
    del old["grid_edge"]
    assert edge_of(old) == "largest"
    assert edge_of({"weight": "lam", "lambda": 1.0, "validation_mse": [[1.0, 0.1]]}) is None


def test_an_entry_of_two_candidates_records_the_edge_chosen(tmp_path):
    """User trial: a two-value grid (``--lasso-lambdas 1e-6,1e-5``) chose 1e-6 with the
    other's validation MSE higher, and weights.json said "grid_edge": null (summary.md: no
    †): of two candidates the choice is always at an edge."""
    from ganinverse.sweep.report import format_weights

    two = [(1e-06, 0.0959), (1e-05, 0.1008)]
    low = entry("lam", 1e-06, two, 4, 1.0)
    assert low["grid_edge"] == "smallest" and edge_of(low) == "smallest"
    old = json.loads(json.dumps(low))
    del old["grid_edge"]  # (an entry written before the field: judged from its MSEs)
    assert edge_of(old) == "smallest"
    assert entry("lam", 1e-05, [(1e-06, 0.2), (1e-05, 0.1)], 4, 1.0)["grid_edge"] == "largest"
    (tmp_path / "weights.json").write_text(json.dumps({"lasso-dct@50": low}))
    text = format_weights(tmp_path)
    assert "| lasso-dct | lam | 1e-06 † |" in text, text
    assert "1e-06 is the smallest candidate (widen --lasso-lambdas below 1e-06)" in text
