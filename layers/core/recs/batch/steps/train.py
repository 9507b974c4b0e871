"""Step 2, train: interactions -> model artefact (numpy, scipy)."""

from __future__ import annotations

import numpy as np

from recs.batch.interactions import Interactions
from recs.batch.steps import State
from recs.batch.training import train
from recs.config import BatchConfig
from recs.stores.ports import ObjectStore


def train_step(state: State, objects: ObjectStore, config: BatchConfig) -> State:
    """Train item-item CF on the interactions and write ``models/<version>/model.npz``."""
    interactions = Interactions.from_bytes(objects.get(state["interactions_key"]))
    model = train(interactions, config)
    model_key = f"models/{state['version']}/model.npz"
    objects.put(model_key, model.to_bytes())
    return {
        **state,
        "model_key": model_key,
        "counts": {
            **state.get("counts", {}),
            "users_with_recommendations": int(np.count_nonzero(np.diff(model.rec_indptr))),
            "items_with_neighbours": int(np.count_nonzero(np.diff(model.similarity.indptr))),
            "categories": int(model.category_names.size),
        },
    }
