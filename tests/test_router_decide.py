"""Router decisions without a server: the labelled request set, effort asked for by the request, a
learned model used only when trusted and sure, and model files that are broken or replaced."""

from __future__ import annotations

import json
import os

import pytest
from router_support import labelled, request_of

from aitherd.serve.classifier import FORMAT, LinearModel, ModelError, features
from aitherd.serve.config import RouterSection
from aitherd.serve.effort import BadRequest, requested_effort
from aitherd.serve.metrics import RelayMetrics
from aitherd.serve.router import Router, RouteRequest

ITEMS = labelled()


def router(tmp_path, **cfg) -> Router:
    section = RouterSection(**cfg)
    return Router(lambda: section, tmp_path, RelayMetrics())


def ask(r: Router, item: dict):
    path, body, headers = request_of(item)
    return r.decide(RouteRequest(path, body, {k.lower(): v for k, v in headers.items()}))


@pytest.mark.parametrize("item", ITEMS, ids=[i["id"] for i in ITEMS])
def test_each_labelled_request_takes_its_route(tmp_path, item):
    d = ask(router(tmp_path), item)

    assert d.route == item["route"], f"{item['id']} ({item['why']}): {d.header()}"


def test_the_labelled_set_covers_every_route_and_kind():
    routes = {i["route"] for i in ITEMS}
    kinds = {i["kind"] for i in ITEMS}
    assert routes == {"coder", "reasoner", "orchestrator"}
    assert {"coding", "math", "planning", "chitchat", "explicit"} <= kinds


def test_effort_from_the_header_beats_metadata_beats_reasoning_effort():
    body = {"metadata": {"effort": "4"}, "reasoning_effort": "high"}
    assert requested_effort(body, {"x-aitherd-effort": "9"}).effort == 9
    assert requested_effort(body, {}).effort == 4
    assert requested_effort({"reasoning_effort": "HIGH"}, {}).effort == 8
    assert requested_effort({"reasoning": {"effort": "low"}}, {}).where == "reasoning.effort=low"
    assert requested_effort({"messages": []}, {}) is None


@pytest.mark.parametrize(("body", "headers", "param"), [
    ({}, {"x-aitherd-effort": "eleven"}, "X-Aitherd-Effort"),
    ({}, {"x-aitherd-effort": "0"}, "X-Aitherd-Effort"),
    ({"metadata": {"effort": 11}}, {}, "metadata.effort"),
    ({"metadata": {"effort": True}}, {}, "metadata.effort"),
    ({"reasoning_effort": "extreme"}, {}, "reasoning_effort"),
    ({"reasoning_effort": 3}, {}, "reasoning_effort"),
])
def test_an_unreadable_effort_is_a_bad_request_naming_the_field(body, headers, param):
    with pytest.raises(BadRequest) as err:
        requested_effort(body, headers)
    assert err.value.param == param and param in str(err.value)


def test_the_decision_header_says_what_decided_and_why(tmp_path):
    r = router(tmp_path)
    d = ask(r, next(i for i in ITEMS if i["id"] == "math-01"))
    assert d.header().startswith("reasoner; by=heuristic; effort=")
    assert "asks to think or prove" in d.header()
    d = ask(r, next(i for i in ITEMS if i["id"] == "explicit-03"))
    assert d.by == "request" and "effort 9 from metadata.effort" in d.why
    d = ask(r, next(i for i in ITEMS if i["kind"] == "coding" and i.get("suffix")))
    assert (d.route, d.by) == ("coder", "fim")
    assert r.metrics.router_decisions.labels(route="coder", by="fim")._value.get() == 1


def write_model(path, labels, weights, *, use=True, bits=18):
    """A hand-made linear model: `weights` maps a word to one weight per label."""
    index = {}
    for word, row in weights.items():
        for f in features(word, False, bits):
            index[f] = row
    data = {"format": FORMAT, "labels": labels, "bits": bits, "bias": [0.0] * len(labels),
            "index": sorted(index), "weights": [index[f] for f in sorted(index)], "use": use,
            "learner": "hand", "validation": {"examples": 50, "route_accuracy": 0.9}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


LABELS = ["coder/instruction", "reasoner/math", "reasoner/non_reasoning"]


def test_a_trusted_sure_model_decides_and_an_unsure_one_defers_to_the_heuristic(tmp_path):
    # "zebra" means math to this model: a word the heuristic knows nothing about
    write_model(tmp_path / "router" / "model.json", LABELS, {"zebra": [0.0, 9.0, 0.0], "quokka": [0.3, 0.0, 0.2]})
    r = router(tmp_path)

    d = r.decide(RouteRequest("/v1/chat/completions", {"messages": [{"role": "user", "content": "zebra"}]}, {}))
    assert (d.route, d.by) == ("reasoner", "learned") and "reasoner/math p=" in d.why

    d = r.decide(RouteRequest("/v1/chat/completions", {"messages": [{"role": "user", "content": "quokka"}]}, {}))
    assert d.by == "heuristic" and d.why.startswith("learned unsure")

    # asked effort keeps its say; the model only tells whether it is code
    d = r.decide(RouteRequest("/v1/chat/completions", {"messages": [{"role": "user", "content": "zebra"}]},
                              {"x-aitherd-effort": "3"}))
    assert (d.route, d.by) == ("orchestrator", "request")


def test_a_model_that_did_not_beat_the_heuristic_is_used_only_when_asked_for(tmp_path):
    write_model(tmp_path / "router" / "model.json", LABELS, {"zebra": [0.0, 9.0, 0.0]}, use=False)
    req = RouteRequest("/v1/chat/completions", {"messages": [{"role": "user", "content": "zebra"}]}, {})

    assert router(tmp_path).decide(req).by == "heuristic"
    assert router(tmp_path, classifier="learned").decide(req).by == "learned"
    write_model(tmp_path / "router" / "model.json", LABELS, {"zebra": [0.0, 9.0, 0.0]}, use=True)
    assert router(tmp_path, classifier="heuristic").decide(req).by == "heuristic"


def test_a_broken_model_file_is_reported_and_the_heuristic_keeps_routing(tmp_path):
    path = tmp_path / "router" / "model.json"
    path.parent.mkdir()
    path.write_text('{"format": "something-else"}')
    r = router(tmp_path)

    assert r.model is None and "something-else" in r.model_error
    assert r.metrics.router_model_errors._value.get() == 1
    assert ask(r, ITEMS[0]).by == "heuristic"
    path.write_text("{not json")
    os.utime(path, ns=(1, 1))
    r.load()
    assert "not JSON" in r.model_error and r.metrics.router_model_errors._value.get() == 2
    with pytest.raises(ModelError, match="weight row 0 has 1 values for 3 labels"):
        LinearModel({"format": FORMAT, "labels": LABELS, "bits": 18, "bias": [0, 0, 0], "index": [5],
                     "weights": [[1.0]]})


def test_a_new_model_file_is_picked_up_and_a_removed_one_dropped(tmp_path):
    import asyncio

    path = tmp_path / "router" / "model.json"
    r = router(tmp_path)
    req = RouteRequest("/v1/chat/completions", {"messages": [{"role": "user", "content": "zebra"}]}, {})
    assert r.decide(req).by == "heuristic" and r.model_error is None

    write_model(path, LABELS, {"zebra": [0.0, 9.0, 0.0]})
    asyncio.run(r.refresh())
    assert r.decide(req).by == "learned" and r.describe()["deciding"] == "learned"

    path.unlink()
    asyncio.run(r.refresh())
    assert r.model is None and r.decide(req).by == "heuristic"
