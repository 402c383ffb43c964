"""The load-state logic on its own (no mypy run): intersections and the state encoding.

What these functions claim about SQLAlchemy is checked against runtime by the differential
suite (``ternary_objects``, ``list_literal_join``); here, their own rules.
"""

from __future__ import annotations

import random
from dataclasses import replace

from mypy_eagerload import names
from mypy_eagerload.core import options as opt
from mypy_eagerload.core.loadstate import (
    UNKNOWN,
    DefaultRef,
    Loaded,
    NotLoaded,
    State,
    default_state,
    expand,
    expand_slot,
    intersect,
    joined_collection_path,
    joined_path_below,
    ref_columns,
    refreshed,
    state_with_options,
)
from mypy_eagerload.core.schema import Column, Model, Relationship
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
        ("boss2", Loaded(None, DefaultRef("m.User", ("m.User", "m.User"), ("m.User",), ("m.User", "boss2"),
                                          False, 1, True, node=("joined", None, False, (("undefer", "bio"),),
                                                                (("posts", ("raise", None, False, (), ())),)),
                                          wildcard="raise", column_wildcards=(("defer", "*"),)))),
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


class _Schema:
    """A plain mapping, no memo: the reference behaviour the checker's memos must match."""

    def __init__(self, models: list[Model]) -> None:
        self.models = {m.fullname: m for m in models}

    def model(self, fullname: str) -> Model | None:
        return self.models.get(fullname)


def _mapping(seed: int) -> _Schema:
    rng = random.Random(seed)
    names = [f"m.M{i}" for i in range(5)]
    lazies = ["joined", "joined", "selectin", "select", "raise", "immediate", "noload"]
    models = []
    for name in names:
        rels = tuple(Relationship(f"r{j}", name, rng.choice(names), rng.random() < 0.5,
                                  lazy=rng.choice(lazies), join_depth=rng.choice([None, None, 1, 2]))
                     for j in range(rng.randint(1, 4)))
        models.append(Model(name, rels, (name,)))
    return _Schema(models)


def _refs(schema: _Schema, state: State | None, depth: int = 0) -> list[DefaultRef]:
    """Every defaults-only subtree reachable from ``state``, a few levels down."""
    found = []
    for _, slot in state.slots if state is not None and depth < 4 else ():
        if isinstance(slot, Loaded) and slot.default is not None:
            found.append(slot.default)
            found += _refs(schema, expand(schema, slot.default), depth + 1)
        elif isinstance(slot, Loaded):
            found += _refs(schema, slot.state, depth + 1)
    return found


def _chains(rng: random.Random, schema: _Schema, model: Model) -> tuple[opt.Chain, ...]:
    """A few random option chains from ``model``, sometimes with a wildcard."""
    strategies = [opt.JOINED, opt.JOINED, opt.SELECTIN, opt.DEFAULT, opt.LAZY, opt.RAISE, opt.IMMEDIATE]
    chains = []
    for _ in range(rng.randint(1, 3)):
        current, chain = model, []
        for _ in range(rng.randint(1, 3)):
            rel = rng.choice(current.relationships)
            chain.append(opt.Step(rng.choice(strategies), current.fullname, rel.name))
            target = schema.model(rel.target)
            if target is None:
                break
            current = target
        if rng.random() < 0.3:
            wildcard = rng.choice([opt.JOINED, opt.RAISE, opt.LAZY])
            chain.append(opt.Step(wildcard, current.fullname, opt.WILDCARD))
        chains.append(tuple(chain))
    return tuple(chains)


def test_joined_path_below_builds_only_joined_slots_and_answers_like_the_full_level() -> None:
    compared = paths = 0
    for seed in range(60):
        schema = _mapping(seed)
        rng = random.Random(seed)
        for model in schema.models.values():
            with_options = state_with_options(schema, model, _chains(rng, schema, model))
            for ref in _refs(schema, default_state(schema, model)) + _refs(schema, with_options):
                full = expand(schema, ref)
                expected = joined_collection_path(schema, full) if full is not None else None
                assert joined_path_below(schema, ref) == expected, (seed, ref)
                compared += 1
                paths += expected is not None
    assert compared > 500 and paths > 20  # enough subtrees, and enough that need unique()


def test_one_slot_or_the_columns_of_a_ref_match_its_full_expansion() -> None:
    compared = 0
    for seed in range(40):
        schema = _mapping(seed)
        rng = random.Random(seed)
        for model in schema.models.values():
            with_options = state_with_options(schema, model, _chains(rng, schema, model))
            refs = _refs(schema, default_state(schema, model)) + _refs(schema, with_options)
            variants = [replace(r, sync=True) for r in refs] + [replace(r, label="strict:") for r in refs]
            for ref in refs + variants:
                full = expand(schema, ref)
                assert full is not None
                assert ref_columns(schema, ref) == full.columns
                for name, slot in full.slots:
                    assert expand_slot(schema, ref, name) == slot, (seed, ref, name)
                    compared += 1
    assert compared > 5000


def _slot_at(schema: _Schema, state: State | None, path: list[str]) -> object:
    """What a read of ``path`` meets: "loaded", the reason it is not (at its first step
    that is not loaded: ``(step, NotLoaded)``), or "unknown"."""
    for i, name in enumerate(path):
        if state is None:
            return "unknown"
        slot = state.slot(name)
        if isinstance(slot, NotLoaded):
            return (i, slot)
        if not isinstance(slot, Loaded):
            return "unknown"
        if i == len(path) - 1:
            return "loaded"
        state = slot.state if slot.default is None else expand(schema, slot.default)
    return "unknown"


def test_intersection_with_a_schema_claims_only_what_every_state_says() -> None:
    """States that may reach one read (re-bound variables, branches): the intersection says
    "loaded" only where every state loads the path, "not loaded" where some state leaves it
    unloaded and none is unsure, and builds refs below loaded targets (issue 16)."""
    checked = claims = 0
    for seed in range(40):
        schema = _mapping(seed)
        rng = random.Random(seed)
        for model in schema.models.values():
            states = [state_with_options(schema, model, _chains(rng, schema, model)) for _ in range(2)]
            both = intersect(states, schema)
            for _ in range(20):
                path, current = [], model
                for _ in range(rng.randint(1, 3)):
                    rel = rng.choice(current.relationships)
                    path.append(rel.name)
                    current = schema.model(rel.target) or current
                got = _slot_at(schema, both, path)
                each = [_slot_at(schema, state, path) for state in states]
                if got == "loaded":
                    assert all(e == "loaded" for e in each), (seed, path)
                elif isinstance(got, tuple):  # the read fails at step got[0]
                    prefix = path[:got[0] + 1]
                    at_prefix = [_slot_at(schema, state, prefix) for state in states]
                    assert any(isinstance(e, tuple) for e in at_prefix), (seed, path)
                    assert "unknown" not in at_prefix, (seed, path)
                checked += 1
                claims += got != "unknown"
    assert checked > 1000 and claims > checked // 2


def test_the_option_names_the_plugin_dispatches_are_the_ones_core_reads() -> None:
    """``plugin.py`` keeps its own copy of the names (not to import ``core`` before a hook
    needs it): the two must not drift apart."""
    assert set(names.LOADER_OPTION_FUNCTIONS) == set(opt.OPTION_STRATEGIES)


def test_refresh_loads_the_named_relationships_and_columns_only() -> None:
    """``session.refresh(obj, names)`` in a layer (the differential suite's ``refreshing``
    scenarios check it against the runtime)."""
    node = Model("m.Node", (Relationship("parent", "m.Node", "m.Node", False),
                            Relationship("children", "m.Node", "m.Node", True, lazy="selectin"),
                            Relationship("owner", "m.Node", "m.User", False, lazy="raise")), ("m.Node",),
                 columns=(Column("bio", deferred=True),))
    user = Model("m.User", (), ("m.User",))
    schema = _Schema([node, user])
    state = State("m.Node", (("parent", NotLoaded("lazy=select")), ("children", Loaded(None)),
                             ("owner", NotLoaded("lazy=raise"))), (("bio", "deferred"),))
    after = refreshed(schema, state, node, ["owner", "bio"])
    assert after is not None
    assert after.slot_map == {"parent": NotLoaded("lazy=select"), "children": Loaded(None),
                              "owner": Loaded(None)}
    assert after.columns == ()
    # A lazy self-referential relationship is filled only from the identity map: unknown.
    cyclic = refreshed(schema, state, node, ["parent", "children"])
    assert cyclic is not None and cyclic.slot_map["parent"] is UNKNOWN
    assert cyclic.slot_map["children"] == Loaded(None)
    assert refreshed(schema, state, node, ["missing"]) is None  # refresh raises: no claim


def test_a_conflict_is_ended_by_changing_one_option() -> None:
    """The option that loads nothing goes; of two loaders the later one; an option with
    sub-options below the conflict keeps them (its call becomes defaultload())."""
    from mypy_eagerload.core.conflicts import Resolution, find_conflicts, resolve_conflict

    posts = opt.Step(opt.SELECTIN, "app.User", "posts")
    joined = opt.Step(opt.JOINED, "app.User", "posts")
    raise_ = opt.Step(opt.RAISE, "app.User", "posts")
    tags = opt.Step(opt.SELECTIN, "app.Post", "tags")
    cases = [
        ([(posts,), (joined,)], Resolution(1, 0, True)),
        ([(raise_,), (joined,)], Resolution(0, 0, True)),
        ([(joined, tags), (raise_,)], Resolution(1, 0, True)),
        ([(posts,), (joined, tags)], Resolution(1, 0, False)),
    ]
    for chains, expected in cases:
        (conflict,) = find_conflicts(chains)
        assert resolve_conflict([(c,) for c in chains], conflict) == expected, chains
    # An option the plugin cannot name (a variable, a Load() with several chains): no patch.
    (conflict,) = find_conflicts([(posts,), (joined,)])
    assert resolve_conflict([None, ((joined,),)], conflict) is None
    # A recursion and the same loader without a depth: the plain one goes.
    recursion = opt.recursion(opt.Step(opt.SELECTIN, "app.Node", "children"), 1)
    plain = (opt.Step(opt.SELECTIN, "app.Node", "children"),)
    (conflict,) = find_conflicts([recursion, plain])
    assert conflict.first == "selectinload(recursion_depth=1)" and conflict.second == "selectinload()"
    assert resolve_conflict([(recursion,), (plain,)], conflict) == Resolution(1, 0, True)
    assert find_conflicts([recursion, recursion]) == []
