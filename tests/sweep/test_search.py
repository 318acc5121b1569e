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
