"""Shared fixtures: the known-answer checkerboard every recommender is tested on."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

N_USERS, N_ITEMS = 40, 20


def checkerboard(seed: int = 0, density: float = 0.6) -> sp.csr_matrix:
    """Users in two groups; even users have only even items, odd users only odd items.

    The right recommendation is obvious: an item of the user's own group.
    """
    rng = np.random.default_rng(seed)
    users, items = [], []
    for user in range(N_USERS):
        for item in range(user % 2, N_ITEMS, 2):
            if rng.random() < density:
                users.append(user)
                items.append(item)
    weights = rng.uniform(0.5, 3.0, len(users)).astype(np.float32)
    return sp.csr_matrix((weights, (users, items)), shape=(N_USERS, N_ITEMS))


@pytest.fixture
def board() -> sp.csr_matrix:
    return checkerboard()
