"""The load-state logic on its own (no mypy run): intersections and the state encoding.

What these functions claim about SQLAlchemy is checked against runtime by the differential
suite (``ternary_objects``, ``list_literal_join``); here, their own rules.
"""

from __future__ import annotations

from mypy_eagerload.core.loadstate import UNKNOWN, DefaultRef, Loaded, NotLoaded, State, intersect
from mypy_eagerload.hooks.types import decode_state, encode_state

REF = DefaultRef("m.Post", ("m.User", "m.Post"), ("m.Post",), ("m.User", "posts"), False, 1, False)
INNER = State("m.Post", (("comments", NotLoaded("lazy=raise")), ("author", Loaded(None))), ())


def _state(**slots: object) -> State:
    return State("m.User", tuple(slots.items()), (("bio", "deferred"),))  # type: ignore[arg-type]


def test_intersect_of_equal_states_is_the_state_itself() -> None:
    one = _state(posts=Loaded(None, REF), team=NotLoaded("lazy=raise"))
    assert intersect([one, _state(posts=Loaded(None, REF), team=NotLoaded("lazy=raise"))]) is one


def test_intersect_keeps_what_every_state_loads() -> None:
    a = _state(posts=Loaded(None, REF), team=Loaded(None), tags=NotLoaded("lazy=raise"))
    b = _state(posts=Loaded(None, REF), team=NotLoaded("lazy=raise"), tags=NotLoaded("raiseload()"))
    slots = intersect([a, b]).slot_map
    assert slots["posts"] == Loaded(None, REF)
    assert slots["team"] == NotLoaded("")  # loaded in one, not the other: "not every query"
    assert slots["tags"] == NotLoaded("")  # two different reasons


def test_intersect_keeps_a_reason_every_state_gives() -> None:
    a = _state(team=NotLoaded("lazy=raise"), posts=Loaded(None))
    b = _state(team=NotLoaded("lazy=raise"), posts=Loaded(None, REF))
    slots = intersect([a, b]).slot_map
    assert slots["team"] == NotLoaded("lazy=raise")
    assert slots["posts"] == Loaded(None)  # loaded in both, described differently below


def test_intersect_unknown_wins_and_nested_states_intersect() -> None:
    other_inner = State("m.Post", (("comments", Loaded(None)), ("author", Loaded(None))), ())
    a = _state(team=UNKNOWN, posts=Loaded(INNER))
    b = _state(team=NotLoaded("lazy=raise"), posts=Loaded(other_inner))
    slots = intersect([a, b]).slot_map
    assert slots["team"] == UNKNOWN
    posts = slots["posts"]
    assert isinstance(posts, Loaded) and posts.state is not None
    assert posts.state.slot_map == {"comments": NotLoaded(""), "author": Loaded(None)}


def test_intersect_columns_and_joined_marker() -> None:
    a = State("m.User", (), (("bio", "deferred"),), joined_collection=True)
    b = State("m.User", (), (("notes", "defer()"),))
    c = State("m.User", (), None)
    assert intersect([a, b]).columns == (("bio", "deferred"), ("notes", "defer()"))
    assert intersect([a, b]).joined_collection
    assert intersect([a, c]).columns is None  # one state cannot tell: neither can the join


def test_encoding_round_trips_every_kind_of_slot() -> None:
    state = State("m.User", (
        ("posts", Loaded(INNER)),
        ("team", Loaded(None, REF)),
        ("tags", Loaded(None)),
        ("boss", NotLoaded("raiseload('*')")),
        ("odd", UNKNOWN),
    ), (("bio", "deferred_raiseload"),), joined_collection=True)
    text = encode_state(state)
    assert encode_state(state) is text  # memoized by identity
    fresh = State(state.model, state.slots, state.columns, state.joined_collection)
    assert encode_state(fresh) == text
    decoded = decode_state(text)
    assert decoded == state
    assert State("m.User", (), None) == decode_state(encode_state(State("m.User", (), None)))


def test_decoding_garbage_is_unknown_not_a_crash() -> None:
    for text in ("", "[", '["m.User"]', '{"a": 1}', "[1, 2, 3, 4]"):
        assert decode_state(text) is None
