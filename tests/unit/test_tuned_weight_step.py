"""With tuning on, the weight step leaves the sums to the train step, which weights the
window's events with the parameters it chose: no interactions file is written that nothing
would read, and the counts come from what the model trained on."""

from __future__ import annotations

import dataclasses

from recs.batch.config import BatchConfig
from recs.batch.model import Model
from recs.batch.steps.train import train_step
from recs.batch.steps.weight import weight_step
from recs.batch.weighting import MIN_TUNING_EVENTS, tunes
from recs.contracts import layout
from tests.unit.test_spark_steps import AS_OF, landed

UNTUNED = BatchConfig(tuning_seconds=0, training_window_days=30, engine="lambda")
TUNED = dataclasses.replace(UNTUNED, tuning_seconds=5.0)


def test_only_a_window_the_train_step_tunes_on_skips_the_sums() -> None:
    assert tunes(TUNED, MIN_TUNING_EVENTS) and not tunes(TUNED, MIN_TUNING_EVENTS - 1)
    assert not tunes(UNTUNED, 10 * MIN_TUNING_EVENTS)


def test_a_tuned_run_writes_no_interactions_and_counts_what_it_trained_on() -> None:
    objects = landed()
    weighted = weight_step({"as_of": AS_OF}, objects, TUNED)
    assert weighted["counts"]["events"] >= MIN_TUNING_EVENTS
    assert "interactions_key" not in weighted
    assert objects.list(layout.interactions(weighted["version"])) == []
    assert {"users", "items", "interactions"}.isdisjoint(weighted["counts"])

    trained = train_step(weighted, objects, TUNED)
    model = Model.from_bytes(objects.get(trained["model_key"]))
    assert trained["tuning"].get("trials", 0) > 0
    assert trained["counts"]["users"] == model.user_ids.size
    assert trained["counts"]["items"] == model.item_ids.size
    assert trained["counts"]["interactions"] == model.history_items.size > 0

    # Untuned, the weight step sums as before, and the train step counts the same pairs.
    untuned_objects = landed()
    untuned = weight_step({"as_of": AS_OF}, untuned_objects, UNTUNED)
    assert untuned_objects.list(layout.interactions(untuned["version"])) == [
        untuned["interactions_key"]]
    counts = train_step(untuned, untuned_objects, UNTUNED)["counts"]
    assert {k: counts[k] for k in ("users", "items", "interactions")} == {
        k: untuned["counts"][k] for k in ("users", "items", "interactions")}
