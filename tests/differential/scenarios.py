"""Scenarios for the differential suite: a query, then reads probed one per line.

Each scenario becomes one async function in a generated module. mypy checks the module
with the plugin; the same module then runs under AsyncSession on aiosqlite, and each probe
records whether its read raised. The test compares the two line by line.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

import sqlalchemy

# The relationship graph of dmodels (name -> (target, is collection)).
GRAPH: dict[str, dict[str, tuple[str, bool]]] = {
    "User": {"posts": ("Post", True), "profile": ("Profile", False), "groups": ("Group", True),
             "addresses": ("Address", True), "comments": ("Comment", True)},
    "Profile": {"user": ("User", False)},
    "Address": {"user": ("User", False)},
    "Post": {"author": ("User", False), "comments": ("Comment", True), "tags": ("Tag", True)},
    "Comment": {"post": ("Post", False), "author": ("User", False)},
    "Tag": {"posts": ("Post", True)},
    "Group": {"owner": ("User", False), "members": ("User", True)},
    "Node": {"parent": ("Node", False), "children": ("Node", True)},
}
# Roots whose row id=1 has every relationship populated (Node 1 has no parent: start at 3).
ROOT_IDS = {"Node": 3, "Address": 11}
SA20 = sqlalchemy.__version__.startswith("2.0.")
EAGER = ["selectinload", "joinedload", "subqueryload", "immediateload"]
LAST_ONLY = ["lazyload", "raiseload"]


@dataclass
class Scenario:
    name: str
    setup: list[str]  # statements that leave the queried object in ``obj``
    probes: list[str]  # expressions read on ``obj``
    # Set when the plugin is documented to fall back to "unknown" for this scenario.
    unknown: bool = False
    conflict: bool = False  # two strategies for one path: the plugin must say loader-conflict
    setup_lines: tuple[int, int] = (0, 0)  # first and last line of the setup, once rendered
    sync: bool = False  # run in a sync Session, where lazy loads emit SQL and succeed
    root: str = ""
    notes: str = ""
    lines: dict[int, int] = field(default_factory=dict)  # source line -> probe index
    # Module-level code the scenario uses (a function annotated with Loaded[...], a
    # repository class), rendered before it. ``helper_probes`` maps a line of it (0-based)
    # to the probe whose outcome it decides: the plugin reports a contract where it is
    # broken (a ``return`` in the helper), the runtime fails where the object is read.
    helpers: list[str] = field(default_factory=list)
    helper_probes: dict[int, int] = field(default_factory=dict)
    extra_lines: dict[int, list[int]] = field(default_factory=dict)  # probe -> helper lines
    reads: dict[int, str] = field(default_factory=dict)  # probe -> the read it makes, if a call
    # Scenarios that are one program run down different paths (``flag`` true, then false):
    # the plugin must report a probe exactly when some path fails it.
    paths: str = ""
    # A ``with`` header the setup and the probes run inside (a session of a factory); the
    # scenario's parameter is then ``outer``.
    wrap: str = ""


def fetch(root: str, stmt: str, style: int, unique: bool = True) -> list[str]:
    """Statements that run ``stmt`` and leave one object in ``obj``. Without ``unique``,
    a statement with a joined-eager collection fails at the fetch (missing-unique)."""
    lines = _fetch(root, stmt, style)
    return lines if unique else [line.replace(".unique()", "") for line in lines]


def _fetch(root: str, stmt: str, style: int) -> list[str]:
    rid = ROOT_IDS.get(root, 1)
    stmt = f"{stmt}.where({root}.id == {rid})"
    if style == 0:
        return [f"obj = (await session.execute({stmt})).unique().scalar_one()"]
    if style == 1:
        return [f"obj = (await session.scalars({stmt})).unique().one()"]
    if style == 2:
        return [f"stmt = {stmt}", "rows = (await session.execute(stmt)).unique().scalars().all()",
                "obj = rows[0]"]
    if style == 3:
        return [f"result = await session.execute({stmt})",
                "for obj in result.unique().scalars():", "    break"]
    if style == 4:
        return [f"stream = await session.stream_scalars({stmt})",
                "async for obj in stream.unique():", "    break"]
    # Issue 20: iterating a parenthesised awaited result, in a comprehension and a loop.
    if style == 5:
        return [f"objs = [o for o in (await session.scalars({stmt})).unique()]", "obj = objs[0]"]
    if style == 6:
        return [f"for obj in (await session.execute({stmt})).unique().scalars():", "    break"]
    return [f"obj = await fetch_one(session, {stmt})"]


FETCH_STYLES = 8


# Many-to-one hops that lead back to the object just come from: the plugin treats what lies
# beyond them as unknown (it is the parent identity, whatever its own state), so a failure
# past one is not expected to be reported.
BACKREFS = {("User", "posts", "author"), ("Post", "comments", "post"), ("User", "addresses", "user"),
            ("User", "profile", "user"), ("Node", "children", "parent"), ("User", "comments", "author")}


# Each relationship and its back_populates partner: in a sync session, a lazy load of the
# reverse leads back into objects already in the session (see loadstate._lazy_loaded).
REVERSE = {("User", "posts"): "author", ("Post", "author"): "posts", ("User", "profile"): "user",
           ("Profile", "user"): "profile", ("User", "groups"): "members", ("Group", "members"): "groups",
           ("User", "addresses"): "user", ("Address", "user"): "addresses", ("User", "comments"): "author",
           ("Comment", "author"): "comments", ("Post", "comments"): "post", ("Comment", "post"): "comments",
           ("Post", "tags"): "posts", ("Tag", "posts"): "tags", ("Node", "children"): "parent",
           ("Node", "parent"): "children"}


# ---------------------------------------------------------------------------------------
# Readers: ``need_<Root>__<path>(obj)`` passes the object to a module-level function whose
# parameter is annotated ``Loaded[Root, "<path>"]`` and which reads exactly that path. The
# plugin must report the call when the object does not load the path; at runtime the read
# inside the function fails then.

READER_PREFIX = "need_"


def reader_call(root: str, probe: str) -> str | None:
    """The reader call for the relationship path of ``probe`` (columns dropped)."""
    parts = probe.split(".")[1:]
    entity, kept = root, []
    for part in parts:
        name = part.removesuffix("[0]")
        if name not in GRAPH[entity]:
            break
        kept.append(part)
        entity = GRAPH[entity][name][0]
    if not kept:
        return None
    key = "__".join(p.replace("[0]", "_i") for p in kept)
    return f"{READER_PREFIX}{root}__{key}(obj)"


def reader_read(call: str) -> str:
    """``need_User__posts_i__comments(obj)`` -> ``obj.posts[0].comments``."""
    _root, key = call[len(READER_PREFIX):].removesuffix("(obj)").split("__", 1)
    return "obj." + ".".join(p.replace("_i", "[0]") if p.endswith("_i") else p for p in key.split("__"))


def reader_def(call: str) -> list[str]:
    name = call.removesuffix("(obj)")
    root = call[len(READER_PREFIX):].split("__", 1)[0]
    read = reader_read(call)
    dotted = read.replace("[0]", "")[len("obj."):]
    return [f'def {name}(x: Loaded[{root}, "{dotted}"]) -> object:',
            f"    return {read.replace('obj.', 'x.', 1)}", ""]


def as_read(probe: str) -> str:
    """The read a probe makes, for the classification helpers below."""
    return reader_read(probe) if probe.startswith(READER_PREFIX) else probe


def through_backref(root: str, probe: str, sync: bool = False) -> bool:
    probe = as_read(probe)
    entity, prev = root, None
    for part in probe.replace("[0]", "").split(".")[1:]:
        part = part.split(" ", 1)[0]
        if part not in GRAPH[entity]:
            return False  # a column: the end of the path
        if prev is not None and (prev[0], prev[1], part) in BACKREFS:
            return True
        if sync and prev is not None and REVERSE.get(prev) == part:
            return True
        prev = (entity, part)
        entity = GRAPH[entity][part][0]
    return False


# Non-key columns of dmodels (deferred ones per dmodels: User.bio/email/phone/secret, Post.body).
COLUMNS: dict[str, list[str]] = {
    "User": ["name", "bio", "email", "phone", "secret"], "Post": ["title", "body", "author_id"],
    "Comment": ["post_id", "author_id"], "Address": ["user_id"], "Profile": ["user_id"],
    "Node": ["parent_id"], "Group": ["owner_id"], "Tag": [],
}


def through_reverse(root: str, probe: str) -> bool:
    """Whether the probe follows a relationship by its reverse (and reads beyond it)."""
    parts = [p for p in as_read(probe).replace("[0]", "").split(".")[1:]]
    entity, prev = root, None
    for i, part in enumerate(parts):
        if part not in GRAPH[entity]:
            return False
        if prev is not None and REVERSE.get(prev) == part and i < len(parts) - 1:
            return True
        prev = (entity, part)
        entity = GRAPH[entity][part][0]
    return False


def random_column_option(rng: random.Random, entity: str, path: tuple[str, ...],
                         used: dict[tuple[str, ...], str]) -> str | None:
    """A column option for ``entity`` at ``path``; None if it could conflict with one used.

    SQLAlchemy rejects two different settings for one column (defer(x) and undefer(x),
    or defer(x) and load_only(x, ...)), and two different wildcards at one level."""
    cols = COLUMNS[entity]
    if not cols:
        return None
    kind = rng.choice(["load_only", "defer", "undefer", "undefer_group", "defer*", "undefer*"])
    # raiseload=True only where no foreign key is deferred: a relationship loader that
    # needs a raising key column fails the whole query (a trap, but not a read).
    raise_kw = (", raiseload=True" if kind in ("load_only", "defer") and entity == "User"
                and rng.random() < 0.3 else "")
    if kind in ("defer*", "undefer*"):
        settings = {("*",): kind}
        text = f"{kind[:-1]}('*')"
    elif kind == "undefer_group":
        if entity != "User":
            return None
        settings = {("group",): "undefer"}
        text = "undefer_group('contact')"
    else:
        chosen = sorted(rng.sample(cols, rng.randint(1, min(2, len(cols))) if kind == "load_only" else 1))
        setting = "undefer" if kind in ("load_only", "undefer") else "defer" + raise_kw
        settings = {(c,): setting for c in chosen}
        if kind == "load_only":
            settings[("*",)] = "defer*" + raise_kw
        text = f"{kind}({', '.join(f'{entity}.{c}' for c in chosen)}{raise_kw})"
    for key, value in settings.items():
        if used.get(path + ("#col",) + key, value) != value:
            return None
    if ("*",) in settings and ("group",) in {k[-1:] for k in used if k[:len(path)] == path}:
        return None
    for key, value in settings.items():
        used[path + ("#col",) + key] = value
    return text


# The option text of each path used so far (for deliberate conflicts); reset per scenario.
HOPS: dict[tuple[str, ...], list[str]] = {}


def conflicting_option(rng: random.Random, used: dict[tuple[str, ...], str]) -> str | None:
    """An option giving a path already set a different strategy: SQLAlchemy raises."""
    paths = sorted(p for p, v in used.items() if "#col" not in p and p in HOPS)
    if not paths:
        return None
    path = rng.choice(paths)
    other = rng.choice([f for f in EAGER + LAST_ONLY if f != used[path]])
    hops = HOPS[path]
    return ".".join([f"defaultload({h})" for h in hops[:-1]] + [f"{other}({hops[-1]})"])


def random_chain(rng: random.Random, root: str, used: dict[tuple[str, ...], str]) -> str | None:
    """One option chain; ``used`` (path -> strategy) is updated only if it is kept."""
    mine = dict(used)
    hops_before = dict(HOPS)
    text = _random_chain(rng, root, mine)
    if text is None:
        HOPS.clear()
        HOPS.update(hops_before)
    else:
        used.update(mine)
    return text


def _random_chain(rng: random.Random, root: str, used: dict[tuple[str, ...], str]) -> str | None:
    path: tuple[str, ...] = ()
    entity = prev_entity = root
    parts: list[str] = []
    for hop in range(rng.randint(1, 3)):
        rel = rng.choice(sorted(GRAPH[entity]))
        target, _ = GRAPH[entity][rel]
        if entity == "Node" and path and path[-1] != rel:
            return None  # parent-then-children revisits the same rows: identities overlap
        path = path + (rel,)
        last = hop == 2 or rng.random() < 0.4
        pool = EAGER + ["defaultload"] + (LAST_ONLY if last else [])
        fn = rng.choice(pool)
        if parts and "immediateload" in parts[-1] and (prev_entity, path[-2], rel) in BACKREFS:
            return None  # an option on the way back under immediateload: SQLAlchemy rejects it
        if fn == "subqueryload" and (not GRAPH[entity][rel][1] or (parts and "immediateload" in parts[-1])):
            # SQLAlchemy fails at execution (not at a read) for a subqueryload of a
            # many-to-one whose key column is deferred, and under an immediateload.
            fn = "selectinload"
        strategy = "default" if fn == "defaultload" else fn
        if strategy != "default":
            if used.get(path, strategy) != strategy:
                return None  # SQLAlchemy rejects two strategies for one path
            used[path] = strategy
        if fn == "immediateload":
            # SQLAlchemy sets the reverse many-to-one of an immediateload to lazyload itself.
            for back in [b for e, r, b in BACKREFS if (e, r) == (entity, rel)]:
                if used.get(path + (back,), "lazyload") != "lazyload":
                    return None
                used[path + (back,)] = "lazyload"
        parts.append(f"{fn}({entity}.{rel})")
        HOPS[path] = [*(HOPS.get(path[:-1], [])), f"{entity}.{rel}"]
        prev_entity, entity = entity, target
        if last:
            break
    if rng.random() < 0.3 and not parts[-1].startswith(("lazyload", "raiseload")):
        column = random_column_option(rng, entity, path, used)
        if column is not None:
            parts.append(column)
    elif rng.random() < 0.12 and not parts[-1].startswith(("lazyload", "raiseload")):
        parts.append(f'{rng.choice(["raiseload", "lazyload"])}("*")')
    return ".".join(parts)


def random_probe(rng: random.Random, root: str) -> str:
    expr = "obj"
    entity = root
    for hop in range(rng.randint(1, 3)):
        rel = rng.choice(sorted(GRAPH[entity]))
        target, many = GRAPH[entity][rel]
        expr += f".{rel}"
        entity = target
        if hop < 2 and rng.random() < 0.6:
            if many:
                expr += "[0]"
            continue
        if rng.random() < 0.35 and COLUMNS[entity]:
            return expr + ("[0]" if many else "") + "." + rng.choice(COLUMNS[entity])
        break
    if expr.endswith("]"):
        expr = expr[: expr.rindex("[")]
    return expr


def random_write(rng: random.Random, root: str) -> str:
    """A write at the end of a random path: appending to or replacing a collection loads
    it first; assigning a scalar relationship does not (measured)."""
    path = random_probe(rng, root)
    while "." in path and path.rsplit(".", 1)[-1] not in {r for rels in GRAPH.values() for r in rels}:
        path = path.rsplit(".", 1)[0]  # drop a trailing column
    if "." not in path:
        path = f"obj.{rng.choice(sorted(GRAPH[root]))}"
    entity = root
    for part in path.replace("[0]", "").split(".")[1:]:
        owner, entity = entity, GRAPH[entity][part][0]
    many = GRAPH[owner][part][1]
    kwargs = "name='w'" if entity == "User" else ""
    if many:
        return rng.choice([f"{path}.append({entity}({kwargs}))", f"{path} = [{entity}({kwargs})]",
                           f"{path} += [{entity}({kwargs})]"])
    return f"{path} = {entity}({kwargs})"


def generated(count: int, seed: int = 20261126, sync: bool = False) -> list[Scenario]:
    rng = random.Random(seed)
    # Reader probes draw from their own stream, so the scenarios themselves stay as they were.
    readers = random.Random(seed + 1)
    out: list[Scenario] = []
    prefix = "sync" if sync else "gen"
    # Sync sessions have no stream_scalars and no async helper.
    styles = [0, 1, 2, 3, 5, 6] if sync else list(range(FETCH_STYLES))
    while len(out) < count:
        root = rng.choice(sorted(GRAPH))
        used: dict[tuple[str, ...], str] = {}
        HOPS.clear()
        options = [c for c in (random_chain(rng, root, used) for _ in range(rng.randint(0, 3))) if c]
        conflict = None
        if rng.random() < 0.08:
            conflict = conflicting_option(rng, used)
            if conflict is not None:
                options.insert(rng.randint(0, len(options)), conflict)
        if rng.random() < 0.1:
            options.append(f'{rng.choice(["raiseload", "lazyload"])}("*")')
        if rng.random() < 0.25:
            column = random_column_option(rng, root, (), used)
            if column is not None:
                options.append(column)
        shape = rng.randrange(len(styles) + 2)
        twice_unknown = False
        setup: list[str]
        if shape == len(styles) and options:
            setup = [f"obj0 = await session.get({root}, {ROOT_IDS.get(root, 1)}, "
                     f"options=[{', '.join(options)}])", "assert obj0 is not None", "obj = obj0"]
        elif shape == len(styles) + 1 and len(options) >= 2 and conflict is None:
            stmt = f"select({root}).options({options[0]})"
            setup = [f"stmt0 = {stmt}", f"stmt1 = stmt0.options({', '.join(options[1:])})",
                     *fetch(root, "stmt1", 0)]
            # A wildcard in a later .options() call meets eager defaults that an earlier call
            # may or may not have named: the merged state says "unknown" there.
            twice_unknown = any("*" in o for o in options[1:])
        else:
            stmt = f"select({root})" + (f".options({', '.join(options)})" if options else "")
            setup = fetch(root, stmt, styles[shape % len(styles)], unique=rng.random() < 0.7)
        unknown = twice_unknown
        if sync:
            setup = [line.replace("await ", "") for line in setup]
            # Options below a lazy hop act when a sync session lazy-loads it; the plugin
            # does not keep them in the state and says "unknown" there.
            unknown = unknown or any(re.search(r"(defaultload|lazyload)\([^()]*\)\.", o) for o in options)
        probes = sorted({random_probe(rng, root) for _ in range(rng.randint(1, 4))})
        if not sync and readers.random() < 0.4:
            call = reader_call(root, random_probe(readers, root))
            if call is not None and call not in probes:
                probes.append(call)
        if not sync and rng.random() < 0.2:
            probes.append(random_write(rng, root))  # last: a write changes what later reads see
        out.append(Scenario(f"{prefix}_{len(out)}", setup, probes, root=root, sync=sync, unknown=unknown,
                            conflict=conflict is not None))
    return out


_LAYER_OPTION = re.compile(r"^(?:(?:selectinload|joinedload|subqueryload|immediateload|lazyload|"
                           r"raiseload|defaultload)\(\w+\.\w+\)\.?)+$")


def _layer_chains(rng: random.Random, root: str, least: int, most: int) -> list[str]:
    """``least`` to ``most`` random option chains from ``root`` that a layer can pass on
    (loader options of relationships only)."""
    used: dict[tuple[str, ...], str] = {}
    HOPS.clear()
    return [c for c in (random_chain(rng, root, used) for _ in range(rng.randint(least, most)))
            if c and _LAYER_OPTION.match(c)]


def layered(count: int, seed: int = 17) -> list[Scenario]:
    """Objects fetched through an application's layers (issue 17): a generic repository base
    (``LayerBase``, in a module of its own: ``harness.LAYERS``) subclassed per scenario, option providers,
    statement builders, services that call them, 1 to 4 calls deep. The plugin must know the
    state where the object is read, through every layer, as the runtime does."""
    rng = random.Random(seed)
    out: list[Scenario] = []
    while len(out) < count:
        root = rng.choice(sorted(GRAPH))
        chains = _layer_chains(rng, root, 0, 3)
        name = f"layer_{len(out)}"
        repo, ident = f"{name}Repo", ROOT_IDS.get(root, 1)
        split = rng.randint(0, len(chains))
        first, rest = chains[:split], chains[split:]
        provider = rng.randrange(3)
        helpers = [f"class {repo}(LayerBase[{root}]):", f"    model = {root}", ""]
        # The option provider: a tuple display, a list built with append, or a concatenation.
        helpers.append("    def eager(self) -> Options:")
        if provider == 0 or not chains:
            helpers.append(f"        return ({''.join(c + ', ' for c in chains)})")
        elif provider == 1:
            helpers += ["        opts: list[ExecutableOption] = []"]
            helpers += [f"        opts.append({c})" for c in chains]
            helpers.append("        return opts")
        else:
            helpers.append(f"        return [{', '.join(first)}] + [{', '.join(rest)}]")
        helpers += ["", f"    def readable(self) -> Select[{_one(root)}]:",
                    f"        return self.base_statement().filter_by(id={ident})"
                    + (f".options({', '.join(first)})" if first else ""), ""]
        shape = rng.randrange(8)
        module_level = shape >= 6
        if shape == 6:  # module-level functions: an option provider and a fetch helper
            helpers += [f"def {name}_opts() -> Options:",
                        f"    return [{', '.join(chains)}]", "",
                        f"async def {name}_load(session: AsyncSession, id: int, options: Options = ()) -> {root}:",
                        f"    stmt = select({root}).filter_by(id=id).options(*options)",
                        "    return (await session.execute(stmt)).unique().scalar_one()", ""]
            call = f"await {name}_load(session, {ident}, {name}_opts())"
        elif shape == 7:  # a module-level function over the repository (a FastAPI dependency's shape)
            helpers += [f"async def {name}_dep(session: AsyncSession, id: int) -> {root}:",
                        f"    repository = {repo}(session)",
                        "    found = await repository.by_id(id, options=repository.eager())",
                        "    return found", ""]
            call = f"await {name}_dep(session, {ident})"
        elif shape == 0:  # the repository called where the object is read
            call = f"await {repo}(session).by_id({ident}, options=[{', '.join(chains)}])"
        elif shape == 1:  # options from the provider
            call = f"await {repo}(session).by_id({ident}, options={repo}(session).eager(), " \
                   f"for_update={rng.choice(['True', 'False'])})"
        elif shape == 2:  # a statement builder with options inside, more added outside
            extra = f".options({', '.join(rest)})" if rest else ""
            call = f"await {repo}(session).one_of({repo}(session).readable(){extra})"
        elif shape == 3:  # the older generic-service style: options or None
            passed = rng.choice([f"[{', '.join(chains)}]", "None", f"{repo}(session).eager()"])
            call = f"await {repo}(session).maybe({ident}, {passed})"
        else:  # services calling services
            call = None
        if call is None:
            depth = rng.randint(1, 3)
            helpers += [f"class {name}Svc0:",
                        f"    async def get(self, session: AsyncSession, id: int) -> {root}:",
                        f"        repository = {repo}(session)",
                        "        return await repository.by_id(id, options=repository.eager())", ""]
            for level in range(1, depth + 1):
                body = ([f"        found = await {name}Svc{level - 1}().get(session, id)",
                         "        if id < 0:",
                         "            return found",
                         "        return found"] if level % 2
                        else [f"        return await {name}Svc{level - 1}().get(session, id)"])
                helpers += [f"class {name}Svc{level}:",
                            f"    async def get(self, session: AsyncSession, id: int) -> {root}:",
                            *body, ""]
            call = f"await {name}Svc{depth}().get(session, {ident})"
        setup = [f"obj = {call}"]
        probes = sorted({random_probe(rng, root) for _ in range(rng.randint(1, 4))})
        # mypy 1.x: module-level functions are not summarised (hooks.layers).
        unknown = module_level and not module_summaries()
        out.append(Scenario(name, setup, probes, root=root, helpers=helpers, unknown=unknown,
                            notes="module-level summaries need mypy 2.x" if unknown else ""))
    return out


def refreshing(count: int, seed: int = 23) -> list[Scenario]:
    """Layers that refresh what they return (issue 17): a service, a repository method or a
    module-level helper calls ``session.refresh(obj, names)`` on a fetched object and returns
    it. The named relationships are loaded; what is below them the plugin does not claim
    (measured: a ``lazy="raise"`` relationship of the refreshed objects still raises), so
    the probes read the named relationships themselves and paths that start elsewhere."""
    rng = random.Random(seed)
    out: list[Scenario] = []
    while len(out) < count:
        root = rng.choice(sorted(GRAPH))
        rels = sorted(GRAPH[root])
        chains = _layer_chains(rng, root, 0, 2)
        names = rng.sample(rels, rng.randint(1, min(2, len(rels))))
        shown = ("{" if rng.random() < 0.5 else "[") + ", ".join(repr(n) for n in names)
        shown += "}" if shown[0] == "{" else "]"
        name, ident = f"refresh_{len(out)}", ROOT_IDS.get(root, 1)
        repo, options = f"{name}Repo", f"[{', '.join(chains)}]"
        style = rng.randrange(3)
        helpers = [f"class {repo}(LayerBase[{root}]):", f"    model = {root}", ""]
        if style == 0:  # the repository refreshes through self.session
            helpers += [f"    async def loaded(self, id: int) -> {root}:",
                        f"        found = await self.by_id(id, options={options})",
                        f"        await self.session.refresh(found, {shown})",
                        "        return found", ""]
            setup = [f"obj = await {repo}(session).loaded({ident})"]
        elif style == 1:  # a service hands the object to its own refreshing method
            helpers += [f"class {name}Svc:",
                        f"    async def get(self, session: AsyncSession, id: int) -> {root}:",
                        f"        found = await {repo}(session).by_id(id, options={options})",
                        "        return await self._with(session, found)", "",
                        f"    async def _with(self, session: AsyncSession, obj: {root}) -> {root}:",
                        f"        await session.refresh(obj, {shown})",
                        "        return obj", ""]
            setup = [f"obj = await {name}Svc().get(session, {ident})"]
        else:  # a module-level helper given the object
            helpers += [f"async def {name}_with(session: AsyncSession, obj: {root}) -> {root}:",
                        f"    await session.refresh(obj, {shown})",
                        "    return obj", ""]
            setup = [f"found = await {repo}(session).by_id({ident}, options={options})",
                     f"obj = await {name}_with(session, found)"]
        probes = {f"obj.{names[0]}"}
        for _ in range(8):
            probe = random_probe(rng, root)
            first = probe.split(".")[1].split("[")[0]
            if first not in names or probe == f"obj.{first}":
                probes.add(probe)
            if len(probes) >= 4:
                break
        notes = ""
        if style == 2 and not module_summaries():
            notes = "module-level summaries need mypy 2.x"
        elif root == "Node" and "parent" in names:
            # A lazy self-referential relationship: refresh loads it only from the identity
            # map (loadstate.refreshed), so the plugin does not tell.
            notes = "refresh of a self-referential lazy relationship"
        out.append(Scenario(name, setup, sorted(probes), root=root, helpers=helpers, unknown=bool(notes),
                            notes=notes))
    return out


def option_constants(count: int, seed: int = 29) -> list[Scenario]:
    """Module-level option tuples with a declared type (``X: Options = (...)``, issue 17),
    passed to a repository directly, through a service, or spread into another tuple. The
    declared type forgets the options; the plugin reads the display (mypy 2.x)."""
    rng = random.Random(seed)
    out: list[Scenario] = []
    while len(out) < count:
        root = rng.choice(sorted(GRAPH))
        chains = _layer_chains(rng, root, 1, 3)
        if not chains:
            continue
        name, ident = f"const_{len(out)}", ROOT_IDS.get(root, 1)
        const, repo = f"{name.upper()}_OPTIONS", f"{name}Repo"
        split = rng.randint(0, len(chains) - 1)
        helpers = [f"class {repo}(LayerBase[{root}]):", f"    model = {root}", ""]
        style = rng.randrange(3)
        if style == 2:  # one tuple spread into another
            helpers += [f"{const}_BASE: Options = ({''.join(c + ', ' for c in chains[:split + 1])})",
                        f"{const}: Options = (*{const}_BASE, {''.join(c + ', ' for c in chains[split + 1:])})",
                        ""]
        else:
            helpers += [f"{const}: Options = ({''.join(c + ', ' for c in chains)})", ""]
        if style == 1:  # through a service
            helpers += [f"class {name}Svc:",
                        f"    async def get(self, session: AsyncSession, id: int) -> {root}:",
                        f"        return await {repo}(session).by_id(id, options={const})", ""]
            setup = [f"obj = await {name}Svc().get(session, {ident})"]
        else:
            setup = [f"obj = await {repo}(session).by_id({ident}, options={const})"]
        probes = sorted({random_probe(rng, root) for _ in range(rng.randint(1, 3))})
        unknown = not module_summaries()  # mypy 1.x: module-level names are not summarised
        out.append(Scenario(name, setup, probes, root=root, helpers=helpers, unknown=unknown,
                            notes="module-level summaries need mypy 2.x" if unknown else ""))
    return out


def module_summaries() -> bool:
    import mypy.types  # noqa: F401  (first: importing mypy.maptype first is a cycle in mypy)

    from mypy_eagerload.hooks import layers

    return layers.MODULE_SUMMARIES


def _one(root: str) -> str:
    return f"tuple[{root}]" if SA20 else root


def rebinding() -> list[Scenario]:
    """Statements and objects built step by step, re-bound in branches and loops, and held
    in annotated variables (issue 16). Each runs once per value of ``flag``; a probe fails
    when it fails on some path."""
    one = "(await session.execute({})).unique().scalar_one()"
    programs: list[tuple[str, list[str], list[str]]] = [
        ("rebind_if_one_branch", ["stmt = select(User).where(User.id == 1)",
                                  "if flag:",
                                  "    stmt = stmt.options(selectinload(User.posts))",
                                  "obj = " + one.format("stmt")],
         ["obj.posts", "obj.addresses"]),
        ("rebind_both_branches", ["stmt = select(User).where(User.id == 1)",
                                  "if flag:",
                                  "    stmt = stmt.options(selectinload(User.posts))",
                                  "else:",
                                  "    stmt = stmt.options(joinedload(User.posts))",
                                  "obj = " + one.format("stmt")],
         ["obj.posts", "obj.posts[0].comments", "obj.addresses"]),
        ("rebind_sequence", ["stmt = select(User)",
                             "stmt = stmt.options(selectinload(User.posts))",
                             "stmt = stmt.where(User.id == 1)",
                             "if flag:",
                             "    stmt = stmt.order_by(User.id)",
                             "obj = " + one.format("stmt")],
         ["obj.posts", "obj.addresses", "obj.posts[0].comments"]),
        ("rebind_first_binding_stale", ["stmt = select(User).options(raiseload(User.posts))",
                                        "stmt = select(User).where(User.id == 1)"
                                        ".options(selectinload(User.posts))",
                                        "obj = " + one.format("stmt")],
         ["obj.posts", "obj.addresses"]),
        ("rebind_else_raise", ["stmt = select(User).where(User.id == 1).options(selectinload(User.addresses))",
                               "if not flag:",
                               "    stmt = stmt.options(raiseload(User.posts))",
                               "obj = " + one.format("stmt")],
         ["obj.posts", "obj.addresses"]),
        ("rebind_object", ["obj = " + one.format("select(User).where(User.id == 1)"),
                           "if flag:",
                           "    obj = " + one.format("select(User).where(User.id == 1)"
                                                     ".options(selectinload(User.posts))")],
         ["obj.posts", "obj.addresses"]),
        ("rebind_object_both", ["obj = " + one.format("select(User).where(User.id == 1)"),
                                "obj = " + one.format("select(User).where(User.id == 1)"
                                                      ".options(selectinload(User.posts))")],
         ["obj.posts", "obj.addresses"]),
        ("reassigned_optional", ["maybe = (await session.execute(select(User).where(User.id == 1)"
                                 ".options(selectinload(User.posts)))).unique().scalar_one_or_none()",
                                 "if flag:",
                                 "    maybe = (await session.execute(select(User).where(User.id == 2)"
                                 ".options(selectinload(User.addresses)))).unique().scalar_one_or_none()",
                                 "assert maybe is not None", "obj = maybe"],
         ["obj.posts", "obj.addresses"]),
        ("rebind_loop", ["stmt = select(User).where(User.id == 1)",
                         "for _ in range(2 if flag else 0):",
                         "    stmt = stmt.options(selectinload(User.posts))",
                         "obj = " + one.format("stmt")],
         ["obj.addresses"]),
        ("annotated_statement", ["stmt: UserStmt = select(User).where(User.id == 1)"
                                 ".options(selectinload(User.posts))",
                                 "obj = " + one.format("stmt")],
         ["obj.posts", "obj.addresses", "obj.posts[0].comments"]),
        ("annotated_sequence", ["users: Sequence[User] = (await session.scalars(select(User)"
                                ".where(User.id == 1).options(selectinload(User.posts)))).all()",
                                "obj = users[0]"],
         ["obj.posts", "obj.addresses"]),
        ("annotated_optional", ["maybe: User | None = (await session.execute(select(User)"
                                ".where(User.id == 1))).scalar_one_or_none()",
                                "assert maybe is not None", "obj = maybe"],
         ["obj.posts", "obj.addresses"]),
        ("ternary_statements", ["a = select(User).where(User.id == 1).options(selectinload(User.posts))",
                                "b = select(User).where(User.id == 1)"
                                ".options(selectinload(User.posts), selectinload(User.addresses))",
                                "obj = " + one.format("a if flag else b")],
         ["obj.posts"]),
        ("list_of_objects", ["a = " + one.format("select(User).where(User.id == 1)"
                                                 ".options(selectinload(User.posts))"),
                             "b = " + one.format("select(User).where(User.id == 1)"),
                             "objs = [a, b] if flag else [b, a]",
                             "obj = [a, b][0 if flag else 1]"],
         ["obj.addresses"]),
    ]
    # A statement re-bound in a loop is unknown: its state after the loop is a fixpoint the
    # hooks, which see one call at a time, do not compute.
    unknown = {"rebind_loop"}
    found: list[Scenario] = [
        # A helper that loads more and returns the object, its result re-bound to the same
        # name: mypy's type is the declared one, so the state after it is unknown (never the
        # first query's, which would be a false report on ``posts``).
        Scenario("rebind_through_helper",
                 ["obj = " + one.format("select(User).where(User.id == 1)"),
                  "obj = await with_posts(session, obj)"], ["obj.posts", "obj.addresses"],
                 root="User", unknown=True,
                 helpers=["async def with_posts(session: AsyncSession, user: User) -> User:",
                          "    await session.refresh(user, ['posts'])",
                          "    return user"]),
    ]
    for name, setup, probes in programs:
        for flag in ("True", "False"):
            found.append(Scenario(f"{name}_{flag.lower()}",
                                  [f"flag = len(session.identity_map) >= 0 if {flag} else False",
                                   *setup], probes, root="User", paths=name, unknown=name in unknown))
    return found


def handwritten() -> list[Scenario]:
    """The rows of DESIGN-NOTES.md section 1 and the chain shapes of the core issue."""
    S = Scenario
    one = "(await session.execute({})).unique().scalar_one()"

    def q(stmt: str) -> list[str]:
        return ["obj = " + one.format(stmt)]

    return [
        S("plain_collection", q("select(User).where(User.id == 1)"), ["obj.posts"]),
        S("plain_many_to_one", q("select(Post).where(Post.id == 1)"), ["obj.author"]),
        S("selectin_loads", q("select(User).where(User.id == 1).options(selectinload(User.posts))"),
          ["obj.posts", "obj.posts[0].comments", "obj.posts[0].author"]),
        S("joined_loads", q("select(User).where(User.id == 1).options(joinedload(User.posts))"),
          ["obj.posts", "obj.posts[0].author.posts"]),
        S("subquery_immediate", q("select(Post).where(Post.id == 1).options(subqueryload(Post.comments),"
                                  " immediateload(Post.author))"),
          ["obj.comments", "obj.author", "obj.author.posts", "obj.comments[0].post"]),
        S("eager_defaults", q("select(User).where(User.id == 1)"),
          ["obj.profile", "obj.groups", "obj.groups[0].owner", "obj.profile.user"]),
        S("raise_default", q("select(User).where(User.id == 1)"), ["obj.comments"]),
        # A defaultload path's options below, then a second .options() that loads the path:
        # the first's sub-options still apply (found by the fix-note check, issue 19).
        S("suboptions_then_load", ["stmt = select(User).where(User.id == 1)"
                                   ".options(defaultload(User.posts).selectinload(Post.comments))",
                                   "stmt = stmt.options(selectinload(User.posts))",
                                   "obj = " + one.format("stmt")],
          ["obj.posts", "obj.posts[0].comments"]),
        S("raise_on_sql_default", q("select(Post).where(Post.id == 1)"), ["obj.tags"]),
        S("raiseload_option", q("select(User).where(User.id == 1).options(raiseload(User.profile))"),
          ["obj.profile"]),
        S("raiseload_wildcard", q("select(User).where(User.id == 1).options(raiseload('*'))"),
          ["obj.profile", "obj.groups", "obj.posts"]),
        S("wildcard_with_explicit", q("select(User).where(User.id == 1)"
                                      ".options(raiseload('*'), selectinload(User.posts))"),
          ["obj.posts", "obj.profile", "obj.posts[0].comments"]),
        S("nested_wildcard", q("select(User).where(User.id == 1)"
                               ".options(selectinload(User.posts).raiseload('*'))"),
          ["obj.posts", "obj.profile", "obj.posts[0].author", "obj.posts[0].comments"]),
        S("defaultload_chain", q("select(User).where(User.id == 1)"
                                 ".options(defaultload(User.posts).selectinload(Post.comments))"),
          ["obj.posts"]),
        S("lazyload_overrides_default", q("select(User).where(User.id == 1)"
                                          ".options(lazyload(User.profile))"), ["obj.profile"]),
        S("noload", q("select(User).where(User.id == 1).options(noload(User.posts))"), ["obj.posts"]),
        S("chain_three", q("select(User).where(User.id == 1).options(selectinload(User.posts)"
                           ".joinedload(Post.comments).selectinload(Comment.author))"),
          ["obj.posts[0].comments[0].author", "obj.posts[0].comments[0].author.posts",
           "obj.posts[0].comments[0].post"]),
        S("load_object", q("select(User).where(User.id == 1).options(Load(User).selectinload(User.posts))"),
          ["obj.posts", "obj.addresses"]),
        S("load_suboptions", q("select(User).where(User.id == 1).options(selectinload(User.posts)"
                               ".options(selectinload(Post.comments), joinedload(Post.tags)))"),
          ["obj.posts[0].comments", "obj.posts[0].tags", "obj.posts[0].comments[0].author"]),
        S("options_twice", ["stmt = select(User).where(User.id == 1).options(selectinload(User.posts))",
                            "stmt = stmt.options(selectinload(User.addresses))",
                            "obj = " + one.format("stmt")],
          ["obj.posts", "obj.addresses", "obj.comments"]),
        S("option_in_variable", ["opt = selectinload(User.posts).selectinload(Post.comments)",
                                 "obj = " + one.format("select(User).where(User.id == 1).options(opt)")],
          ["obj.posts[0].comments", "obj.posts[0].tags"]),
        S("star_options_unknown", ["opts = [selectinload(User.posts), joinedload(User.addresses)]",
                                   "obj = " + one.format("select(User).where(User.id == 1).options(*opts)")],
          ["obj.posts", "obj.addresses", "obj.comments"], unknown=True,
          notes="options spread from a list of different options: element type is joined"),
        S("session_get", ["obj0 = await session.get(User, 1, options=[selectinload(User.posts)])",
                          "assert obj0 is not None", "obj = obj0"], ["obj.posts", "obj.addresses"]),
        S("session_get_plain", ["obj0 = await session.get(Post, 1)", "assert obj0 is not None",
                                "obj = obj0"], ["obj.author", "obj.comments"]),
        S("contains_eager", q("select(User).join(User.posts).where(User.id == 1)"
                              ".options(contains_eager(User.posts))"), ["obj.posts", "obj.addresses"]),
        S("cycle_selectin_back", q("select(Address).where(Address.id == 11)"
                                   ".options(joinedload(Address.user))"),
          ["obj.user", "obj.user.groups", "obj.user.addresses"]),
        S("cycle_joined_owner", q("select(Group).where(Group.id == 1)"),
          ["obj.owner", "obj.owner.groups", "obj.owner.profile"]),
        S("joined_restarts_in_selectin", q("select(User).where(User.id == 1)"),
          ["obj.groups[0].owner", "obj.groups[0].owner.profile"]),
        S("self_referential_default", q("select(Node).where(Node.id == 3)"),
          ["obj.children", "obj.parent"]),
        S("self_referential_option", q("select(Node).where(Node.id == 3)"
                                       ".options(joinedload(Node.parent).joinedload(Node.parent))"),
          ["obj.parent", "obj.parent.parent", "obj.parent.children"]),
        # recursion_depth=N loads N + 1 levels, -1 all; other options on its path conflict,
        # and options chained below it are not applied where a chain would put them.
        S("recursion_children", q("select(Node).where(Node.id == 3)"
                                  ".options(selectinload(Node.children, recursion_depth=1))"),
          ["obj.children[0].children", "obj.children[0].children[0].children",
           "obj.children[0].children[0].children[0].children"]),
        S("recursion_parent", q("select(Node).where(Node.id == 3)"
                                ".options(selectinload(Node.parent, recursion_depth=2))"),
          ["obj.parent.parent.parent", "obj.parent.parent.parent.parent", "obj.parent.parent.children"]),
        S("recursion_immediate", q("select(Node).where(Node.id == 3)"
                                   ".options(immediateload(Node.parent, recursion_depth=0))"),
          ["obj.parent", "obj.parent.parent"]),
        S("recursion_unlimited", q("select(Node).where(Node.id == 7)"
                                   ".options(selectinload(Node.parent, recursion_depth=-1))"),
          ["obj.parent.parent.parent.parent.parent.parent", "obj.parent.parent.parent.parent.children"]),
        S("recursion_chained_below", q("select(Node).where(Node.id == 3).options(selectinload("
                                       "Node.parent, recursion_depth=1).selectinload(Node.children))"),
          ["obj.parent.parent", "obj.parent.parent.children"], unknown=True),
        S("recursion_conflict", q("select(Node).where(Node.id == 3).options(selectinload("
                                  "Node.parent, recursion_depth=1), selectinload(Node.parent))"),
          ["obj.parent"], conflict=True),
        S("backref_scalar_to_parent", q("select(User).where(User.id == 1).options(lazyload(User.profile),"
                                        " selectinload(User.addresses))"),
          ["obj.addresses[0].user", "obj.addresses[0].user.posts"]),
        # The back-reference is the parent object itself: what it has loaded, read again.
        S("backref_parent_state", q("select(User).where(User.id == 1).options(selectinload(User.addresses),"
                                    " selectinload(User.posts))"),
          ["obj.addresses[0].user.posts", "obj.addresses[0].user.comments",
           "obj.addresses[0].user.addresses[0].user.groups", "[a.user.posts for a in obj.addresses]",
           "obj.addresses[1].user.comments"]),
        S("backref_one_to_one", q("select(Profile).where(Profile.id == 1).options(joinedload(Profile.user))"),
          ["obj.user.profile", "obj.user.posts"]),
        S("raise_scalar_to_parent", q("select(User).where(User.id == 1).options(raiseload(User.profile),"
                                      " selectinload(User.posts).raiseload(Post.author))"),
          ["obj.posts[0].author"]),
        S("multi_entity_row", ["row = (await session.execute(select(User, Post).join(User.posts)"
                               ".where(User.id == 1).options(selectinload(User.addresses)))).first()",
                               "assert row is not None", "obj = row[0]"],
          ["obj.addresses", "obj.posts"], unknown=sqlalchemy.__version__.startswith("2.0."),
          notes="SQLAlchemy 2.0 types Row indexing as Any: the state is erased"),
        S("mixin_declared_attr", q("select(Group).where(Group.id == 1).options(lazyload(Group.owner))"),
          ["obj.owner", "obj.members"]),
        S("assign_collection", q("select(User).where(User.id == 1)"), ["obj.posts.append(Post())"]),
        S("assign_collection_list", q("select(User).where(User.id == 1)"), ["obj.posts = [Post()]"]),
        S("assign_scalar", q("select(Post).where(Post.id == 1)"), ["obj.author = User(name='x')"]),
        # Two load states meet: the plugin keeps what both load. At runtime the less-loaded
        # branch is taken (``flag`` is False), so what only the other loads fails for real.
        S("ternary_objects", ["flag = len(session.identity_map) < 0",
                              "a = " + one.format("select(User).where(User.id == 1)"
                                                  ".options(selectinload(User.posts), selectinload(User.addresses))"),
                              "b = " + one.format("select(User).where(User.id == 2)"
                                                  ".options(selectinload(User.addresses))"),
                              "obj = a if flag else b"],
          ["obj.addresses", "obj.posts", "obj.comments"]),
        # A variable assigned twice keeps its first type in mypy: the second state is fitted
        # to it (read as unknown), and after the branches meet the first state's claims
        # stand. At runtime the branch is not taken, so the first query's object is read.
        S("reassigned_object", ["flag = len(session.identity_map) < 0",
                                "obj = " + one.format("select(User).where(User.id == 2)"
                                                      ".options(selectinload(User.addresses))"),
                                "if flag:",
                                "    obj = " + one.format("select(User).where(User.id == 1)"
                                                          ".options(selectinload(User.posts))")],
          ["obj.addresses", "obj.posts"]),
        S("reassigned_read", ["flag = len(session.identity_map) < 0",
                              "post = " + one.format("select(Post).where(Post.id == 1)"
                                                     ".options(selectinload(Post.author))"),
                              "obj = post.author",
                              "if flag:",
                              "    other = " + one.format("select(Post).where(Post.id == 2).options("
                                                          "selectinload(Post.author).selectinload(User.posts))"),
                              "    obj = other.author"],
          ["obj.posts", "obj.addresses"]),
        S("list_literal_join", ["a = " + one.format("select(User).where(User.id == 1)"
                                                    ".options(selectinload(User.posts), selectinload(User.addresses))"),
                                "b = " + one.format("select(User).where(User.id == 2)"
                                                    ".options(selectinload(User.addresses))"),
                                "for obj in [b, a]:", "    break"],
          ["obj.addresses", "obj.posts"]),
        S("ternary_statements", ["flag = len(session.identity_map) < 0",
                                 "stmt = (select(User).options(selectinload(User.posts), selectinload(User.addresses))"
                                 " if flag else select(User).options(selectinload(User.addresses)))",
                                 "obj = " + one.format("stmt.where(User.id == 1)")],
          ["obj.addresses", "obj.posts"], unknown=True,
          notes="execute() of a union of statements: mypy's overload check erases it to Any"),
        S("session_get_options_variable", ["opts = [selectinload(User.posts)]",
                                           "obj0 = await session.get(User, 1, options=opts)",
                                           "assert obj0 is not None", "obj = obj0"],
          ["obj.posts", "obj.addresses"]),
        S("generic_helper", ["obj = await fetch_one(session, select(User).where(User.id == 1)"
                             ".options(selectinload(User.posts)))"], ["obj.posts", "obj.addresses"]),
        S("stream_scalars", ["stream = await session.stream_scalars(select(User).where(User.id == 1)"
                             ".options(selectinload(User.posts)))",
                             "async for obj in stream:", "    break"], ["obj.posts", "obj.addresses"]),
        S("wildcard_propagates", q("select(Post).where(Post.id == 1)"
                                   ".options(joinedload(Post.author), raiseload('*'))"),
          ["obj.author", "obj.author.profile", "obj.author.groups"]),
        S("wildcard_stops_at_immediate", q("select(Post).where(Post.id == 1)"
                                           ".options(immediateload(Post.author), raiseload('*'))"),
          ["obj.author", "obj.author.profile", "obj.author.groups", "obj.tags"]),
        S("bound_wildcard_root_only", q("select(Address).where(Address.id == 11)"
                                        ".options(Load(Address).raiseload('*'), selectinload(Address.user))"),
          ["obj.user.groups", "obj.user.profile"]),
        S("nested_wildcard_one_level", q("select(User).where(User.id == 1).options(selectinload(User.posts)"
                                         ".options(raiseload('*'), selectinload(Post.comments)))"),
          ["obj.posts[0].comments", "obj.posts[0].comments[0].author", "obj.posts[0].tags"]),
        # Columns (unloaded-column).
        S("columns_default", q("select(User).where(User.id == 1)"),
          ["obj.id", "obj.name", "obj.bio", "obj.email", "obj.secret"]),
        S("load_only", q("select(User).where(User.id == 1).options(load_only(User.name))"),
          ["obj.name", "obj.bio", "obj.email", "obj.secret"]),
        S("load_only_raise", q("select(User).where(User.id == 1).options(load_only(User.name, raiseload=True))"),
          ["obj.bio", "obj.name"]),
        S("load_only_deferred_column", q("select(User).where(User.id == 1).options(load_only(User.bio))"),
          ["obj.bio", "obj.name"]),
        S("load_only_with_undefer", q("select(User).where(User.id == 1)"
                                      ".options(undefer(User.email), load_only(User.name))"),
          ["obj.email", "obj.phone", "obj.name"]),
        S("defer_option", q("select(User).where(User.id == 1).options(defer(User.name))"), ["obj.name"]),
        S("defer_raise", q("select(Post).where(Post.id == 1).options(defer(Post.title, raiseload=True))"),
          ["obj.title", "obj.body"]),
        S("undefer_and_group", q("select(User).where(User.id == 1)"
                                 ".options(undefer(User.bio), undefer_group('contact'))"),
          ["obj.bio", "obj.email", "obj.phone", "obj.secret"]),
        S("undefer_star", q("select(User).where(User.id == 1).options(undefer('*'))"),
          ["obj.bio", "obj.secret"]),
        S("defer_star", q("select(User).where(User.id == 1).options(defer('*'))"), ["obj.name", "obj.id"]),
        S("nested_load_only", q("select(User).where(User.id == 1)"
                                ".options(selectinload(User.posts).load_only(Post.title))"),
          ["obj.posts[0].title", "obj.posts[0].body", "obj.posts[0].author_id", "obj.posts[0].author"]),
        S("nested_defer_joined", q("select(User).where(User.id == 1)"
                                   ".options(joinedload(User.posts).defer(Post.title))"),
          ["obj.posts[0].title", "obj.posts[0].body", "obj.posts[0].author"]),
        S("nested_undefer", q("select(User).where(User.id == 1)"
                              ".options(selectinload(User.posts).undefer(Post.body))"),
          ["obj.posts[0].body", "obj.bio"]),
        S("load_then_chain", q("select(User).where(User.id == 1)"
                               ".options(Load(User).load_only(User.name).selectinload(User.posts))"),
          ["obj.bio", "obj.posts", "obj.posts[0].body"]),
        S("columns_options_twice", ["stmt0 = select(User).where(User.id == 1).options(defer(User.name))",
                                    "stmt1 = stmt0.options(undefer(User.bio))",
                                    "obj = " + one.format("stmt1")], ["obj.name", "obj.bio", "obj.email"]),
        S("columns_reassigned", ["stmt = select(User).where(User.id == 1).options(defer(User.name))",
                                 "stmt = stmt.options(undefer(User.bio))",
                                 "obj = " + one.format("stmt")], ["obj.name", "obj.bio"], unknown=True,
          notes="a reassigned statement variable: where the states differ they become unknown"),
        S("columns_get", ["obj0 = await session.get(User, 1, options=[load_only(User.name)])",
                          "assert obj0 is not None", "obj = obj0"], ["obj.bio", "obj.name"]),
        S("column_write", q("select(User).where(User.id == 1)"), ["obj.bio = 'new'", "obj.secret = 'x'"]),
        S("sync_columns", ["obj = session.execute(select(User).where(User.id == 1)"
                           ".options(defer(User.name))).scalar_one()"],
          ["obj.bio", "obj.name", "obj.secret"], sync=True),
        S("sync_load_only_raise", ["obj = session.scalars(select(User).where(User.id == 1)"
                                   ".options(load_only(User.name, raiseload=True))).one()"],
          ["obj.bio", "obj.name"], sync=True),
        # Joined-eager collections: rows must be fetched through unique() (missing-unique).
        S("unique_required", ["rows = (await session.execute(select(User).where(User.id == 1)"
                              ".options(joinedload(User.posts)))).scalars().all()", "obj = rows[0]"],
          ["obj.posts"]),
        S("unique_default_joined", ["obj = (await session.execute(select(Tag).where(Tag.id == 1)))"
                                    ".scalar_one()"], ["obj.posts"]),
        S("unique_contains_eager", ["obj = (await session.scalars(select(User).join(User.posts)"
                                    ".where(User.id == 1).options(contains_eager(User.posts)))).one()"],
          ["obj.posts"]),
        S("unique_through_many_to_one", ["rows = (await session.execute(select(Post).where(Post.id == 1)"
                                         ".options(joinedload(Post.author).joinedload(User.addresses))))"
                                         ".all()", "obj = rows[0][0]"], ["obj.author.addresses"]),
        S("unique_variable", ["result = await session.execute(select(User).where(User.id == 1)"
                              ".options(joinedload(User.posts)))", "obj = result.scalars().one()"],
          ["obj.posts"]),
        S("unique_variable_uniqued", ["result = await session.execute(select(User).where(User.id == 1)"
                                      ".options(joinedload(User.posts)))", "result.unique()",
                                      "obj = result.scalars().one()"], ["obj.posts"]),
        # Issue 20: unique() on a parenthesised awaited result iterated in a comprehension.
        S("unique_dict_comprehension", ["objs = {o.id: o for o in (await session.scalars(select(User)"
                                        ".where(User.id == 1).options(joinedload(User.posts)))).unique()}",
                                        "obj = objs[1]"], ["obj.posts"]),
        S("unique_dict_comprehension_missing", ["objs = {o.id: o for o in (await session.scalars("
                                                "select(User).where(User.id == 1)"
                                                ".options(joinedload(User.posts))))}", "obj = objs[1]"],
          ["obj.posts"]),
        S("unique_not_needed", ["obj0 = (await session.execute(select(User).where(User.id == 1)"
                                ".options(joinedload(User.posts)))).scalars().first()",
                                "assert obj0 is not None", "obj = obj0"], ["obj.posts"]),
        S("unique_not_needed_in_selectin", ["obj = (await session.execute(select(User).where(User.id == 1)"
                                            ".options(selectinload(User.groups).joinedload(Group.members))))"
                                            ".scalar_one()"], ["obj.groups[0].members"]),
        # Two strategies for one path (loader-conflict), and look-alikes that are fine.
        S("conflict_two_strategies", q("select(User).where(User.id == 1)"
                                       ".options(selectinload(User.posts), joinedload(User.posts))"),
          ["obj.posts"], conflict=True),
        S("conflict_nested", q("select(User).where(User.id == 1).options(selectinload(User.posts)"
                               ".joinedload(Post.author), selectinload(User.posts).selectinload(Post.author))"),
          ["obj.posts"], conflict=True),
        S("conflict_raise_kinds", q("select(User).where(User.id == 1)"
                                    ".options(raiseload(User.posts), raiseload(User.posts, sql_only=True))"),
          ["obj.posts"], conflict=True),
        S("conflict_columns", q("select(User).where(User.id == 1)"
                                ".options(load_only(User.name, User.bio), defer(User.name))"),
          ["obj.name"], conflict=True),
        S("conflict_get", ["obj0 = await session.get(User, 1, options=[selectinload(User.posts), "
                           "lazyload(User.posts)])", "assert obj0 is not None", "obj = obj0"],
          ["obj.posts"], conflict=True),
        S("no_conflict_lookalikes", q("select(User).where(User.id == 1).options(defaultload(User.posts), "
                                      "selectinload(User.posts), raiseload('*'), lazyload('*'), "
                                      "load_only(User.name), load_only(User.bio), selectinload(User.posts))"),
          ["obj.posts", "obj.bio", "obj.email"]),
        # Sync Session: lazy loads emit SQL and succeed; raise strategies still fail.
        S("sync_plain", ["obj = session.execute(select(User).where(User.id == 1)).scalar_one()"],
          ["obj.posts", "obj.comments", "obj.posts[0].comments", "obj.posts[0].tags",
           "obj.posts[0].comments[0].author"], sync=True),
        S("sync_raiseload", ["obj = session.scalars(select(User).where(User.id == 1)"
                             ".options(raiseload(User.posts))).one()"],
          ["obj.posts", "obj.addresses", "obj.addresses[0].user"], sync=True),
        S("sync_get_wildcard", ["obj0 = session.get(User, 1, options=[raiseload('*')])",
                                "assert obj0 is not None", "obj = obj0"],
          ["obj.posts", "obj.profile"], sync=True),
        S("sync_scalar", ["obj0 = session.scalar(select(Post).where(Post.id == 1))",
                          "assert obj0 is not None", "obj = obj0"],
          ["obj.author", "obj.tags", "obj.author.comments"], sync=True),
        S("write_augmented", q("select(User).where(User.id == 1)"), ["obj.posts += [Post()]"]),
        S("write_remove", q("select(Tag).where(Tag.id == 1).options(lazyload(Tag.posts))"),
          ["obj.posts.remove(Post())"]),
        S("write_scalar_raise", q("select(Post).where(Post.id == 1).options(raiseload(Post.author))"),
          ["obj.author = User(name='x')"]),
        S("write_one_to_one", q("select(User).where(User.id == 1).options(lazyload(User.profile))"),
          ["obj.profile = Profile()"]),
        S("write_one_to_one_raise", q("select(User).where(User.id == 1).options(raiseload(User.profile))"),
          ["obj.profile = Profile()"]),
        S("constructed_object", ["obj = User(name='new')"], ["obj.posts", "obj.profile", "obj.bio",
                                                           "obj.posts.append(Post())"]),
        # Result shapes.
        S("rows_unpacked", ["row = (await session.execute(select(User, Post).join(User.posts)"
                            ".where(User.id == 1).options(selectinload(User.addresses)))).first()",
                            "assert row is not None", "obj, _post = row"],
          ["obj.addresses", "obj.posts"], unknown=SA20, notes="SQLAlchemy 2.0 rows are Any"),
        S("row_by_entity_name", ["row = (await session.execute(select(User, Post).join(User.posts)"
                                 ".where(User.id == 1).options(selectinload(User.addresses)))).first()",
                                 "assert row is not None", "obj = row.User"], ["obj.addresses", "obj.posts"]),
        S("tuples_loop", ["result = await session.execute(select(User, Post).join(User.posts)"
                          ".where(User.id == 1).options(selectinload(User.posts)))",
                          "for obj, _post in result.tuples():", "    break"],
          ["obj.posts", "obj.addresses"], unknown=SA20, notes="SQLAlchemy 2.0 rows are Any"),
        S("partitions", ["result = await session.execute(select(User).where(User.id == 1)"
                         ".options(selectinload(User.posts)))",
                         "for part in result.scalars().partitions():", "    obj = part[0]", "    break"],
          ["obj.posts", "obj.addresses"]),
        S("get_one", ["obj = await session.get_one(User, 1, options=[selectinload(User.posts)])"],
          ["obj.posts", "obj.addresses"]),
        S("stream_rows", ["stream = await session.stream(select(User, Post).join(User.posts)"
                          ".where(User.id == 1))", "async for row in stream:", "    obj = row[0]",
                          "    break"], ["obj.posts", "obj.profile"], unknown=SA20,
          notes="SQLAlchemy 2.0 rows are Any"),
        S("legacy_query", ["obj = session.query(User).filter(User.id == 1)"
                           ".options(raiseload(User.posts)).one()"],
          ["obj.posts", "obj.addresses", "obj.comments"], sync=True),
        S("legacy_query_iter", ["for obj in session.query(Post).filter(Post.id == 1)"
                                ".options(load_only(Post.title, raiseload=True)):", "    break"],
          ["obj.body", "obj.title", "obj.tags"], sync=True),
        # Explicit loads after the query.
        S("refresh_names", ["obj = " + one.format("select(User).where(User.id == 1)"),
                            "await session.refresh(obj, ['posts', 'bio'])"],
          ["obj.posts", "obj.bio", "obj.addresses", "obj.email"]),
        S("awaitable_attrs", ["obj = " + one.format("select(User).where(User.id == 1)"),
                              "posts = await obj.awaitable_attrs.posts", "assert posts[0].id",
                              "await obj.awaitable_attrs.bio"],
          ["obj.posts", "obj.bio", "obj.addresses"]),
        S("assign_loaded_collection", q("select(User).where(User.id == 1).options(selectinload(User.posts))"),
          ["obj.posts.append(Post())", "obj.posts = [Post()]"]),
    ]


def contracts() -> list[Scenario]:
    """Objects passed through functions annotated with Loaded[...] and through repositories."""
    S = Scenario
    one = "(await session.execute({})).scalar_one()"
    user1 = "select(User).where(User.id == 1)"

    def q(stmt: str) -> list[str]:
        return ["obj = " + one.format(stmt)]

    repo = [
        "class {n}Repo:",
        "    def __init__(self, session: AsyncSession) -> None:",
        "        self.session = session",
        "    async def get_by_id(self, id: int, *, options: Sequence[ExecutableOption] = ()) -> User | None:",
        "        stmt = select(User).where(User.id == id).options(*options)",
        "        return (await self.session.execute(stmt)).unique().scalar_one_or_none()",
        "    async def get(self, id: int, options: Sequence[ORMOption] = ()) -> User | None:",
        "        return await self.session.get(User, id, options=options)",
        "    async def all(self, options: Sequence[ExecutableOption] = ()) -> Sequence[User]:",
        "        return (await self.session.scalars(select(User).order_by(User.id).options(*options))).unique().all()",
        "    async def fixed(self, options: Sequence[ExecutableOption] = ()) -> User | None:",
        "        stmt = select(User).where(User.id == 1).options(selectinload(User.posts)).options(*options)",
        "        return (await self.session.execute(stmt)).scalar_one_or_none()",
    ]

    def with_repo(name: str) -> list[str]:
        return [line.format(n=name) for line in repo]

    def got(call: str) -> list[str]:
        return [f"obj0 = {call}", "assert obj0 is not None", "obj = obj0"]

    generic = [
        "M = TypeVar('M', bound=Base)",
        "class Repository(Generic[M]):",
        "    model: type[M]",
        "    def __init__(self, session: AsyncSession) -> None:",
        "        self.session = session",
        "    async def first(self, options: Sequence[ExecutableOption] = ()) -> M | None:",
        "        stmt = select(self.model).options(*options)",
        "        return (await self.session.scalars(stmt)).first()",
        "class PostRepository(Repository[Post]):",
        "    model = Post",
    ]
    return [
        # Call sites: the plugin reports the call, the read inside the function fails.
        S("loaded_param_ok", q(f"{user1}.options(selectinload(User.posts).selectinload(Post.comments))"),
          ["need_User__posts_i__comments(obj)", "need_User__posts(obj)"]),
        S("loaded_param_missing_hop", q(f"{user1}.options(selectinload(User.posts))"),
          ["need_User__posts_i__comments(obj)", "need_User__posts(obj)", "need_User__profile(obj)"]),
        S("loaded_param_plain_relay",
          q(user1), ["relay_loaded_param_plain_relay(obj)"],
          helpers=["def take_loaded_param_plain_relay(x: Loaded[User, 'posts']) -> object:",
                   "    return x.posts[0]",
                   "def relay_loaded_param_plain_relay(u: User) -> object:",
                   "    return take_loaded_param_plain_relay(u)"],
          unknown=True, notes="a plain User parameter: unknown origin, accepted in default mode"),
        S("loaded_sequence_param", q(f"{user1}.options(selectinload(User.addresses))"),
          ["seq_loaded_sequence_param([obj])"],
          helpers=["def seq_loaded_sequence_param(xs: Sequence[Loaded[User, 'posts']]) -> object:",
                   "    return [x.posts[0] for x in xs]"]),
        S("loaded_optional_param", q(f"{user1}.options(selectinload(User.addresses))"),
          ["opt_loaded_optional_param(obj)"],
          helpers=["def opt_loaded_optional_param(x: Loaded[User, 'addresses', 'posts'] | None) -> object:",
                   "    return x.posts[0] if x is not None else None"]),
        S("loaded_method_param", q(f"{user1}.options(joinedload(User.posts))"),
          ["Svc_loaded_method_param().show(obj)"],
          helpers=["class Svc_loaded_method_param:",
                   "    def show(self, x: Loaded[User, 'posts.comments']) -> object:",
                   "        return x.posts[0].comments[0]"]),
        # Inside: what the annotation does not list is not loaded (the caller loaded
        # exactly what it lists); the plugin reports the read inside the function.
        S("loaded_undeclared_inside", q(f"{user1}.options(selectinload(User.posts))"),
          ["peek_loaded_undeclared_inside(obj)"],
          helpers=["def peek_loaded_undeclared_inside(x: Loaded[User, 'posts']) -> object:",
                   "    return x.addresses[0]"], helper_probes={1: 0}),
        S("loaded_undeclared_nested", q(f"{user1}.options(selectinload(User.posts))"),
          ["peek_loaded_undeclared_nested(obj)"],
          helpers=["def peek_loaded_undeclared_nested(x: Loaded[User, 'posts']) -> object:",
                   "    return x.posts[0].comments[0]"], helper_probes={1: 0}),
        S("loaded_backref_inside", q(f"{user1}.options(selectinload(User.posts))"),
          ["peek_loaded_backref_inside(obj)"],
          helpers=["def peek_loaded_backref_inside(x: Loaded[User, 'posts']) -> object:",
                   "    return x.posts[0].author"]),
        # Returns: the plugin reports the return, the caller's read fails.
        S("loaded_return_missing", ["obj = await get_loaded_return_missing(session)"],
          ["obj.posts", "obj.addresses"], root="User",
          helpers=["async def get_loaded_return_missing(session: AsyncSession) -> Loaded[User, 'posts']:",
                   f"    return {one.format(user1)}"], helper_probes={1: 0}),
        S("loaded_return_ok", ["obj = await get_loaded_return_ok(session)"],
          ["obj.posts", "obj.posts[0].comments"], root="User",
          helpers=["async def get_loaded_return_ok(session: AsyncSession) -> Loaded[User, 'posts']:",
                   f"    return {one.format(user1 + '.options(selectinload(User.posts))')}"]),
        S("loaded_return_by_name", ["obj = await get_loaded_return_by_name(session)"],
          ["obj.posts"], root="User",
          helpers=["async def get_loaded_return_by_name(session: AsyncSession) -> Loaded[User, 'posts']:",
                   f"    user = {one.format(user1 + '.options(selectinload(User.addresses))')}",
                   "    return user"], helper_probes={1: 0, 2: 0}),
        S("loaded_return_get", ["obj = await get_loaded_return_get(session)"],
          ["obj.posts", "obj.addresses"], root="User",
          helpers=["async def get_loaded_return_get(session: AsyncSession) -> Loaded[User, 'posts']:",
                   "    return await session.get_one(User, 1, options=[selectinload(User.addresses)])"],
          helper_probes={1: 0}),
        # Members: a property or method of the model that reads relationships on self.
        S("members_loaded", q(f"{user1}.options(selectinload(User.posts))"),
          ["obj.post_count", "obj.comment_total()", "obj.describe()", "obj.posts[0].tag_count"]),
        S("members_missing", q(user1), ["obj.post_count", "obj.describe()", "obj.comment_total()"]),
        S("members_nested", q(f"{user1}.options(selectinload(User.posts).selectinload(Post.comments),"
                              " selectinload(User.posts).selectinload(Post.tags))"),
          ["obj.comment_total()", "obj.describe()", "obj.posts[0].tag_count"]),
        S("members_hybrid", q("select(Post).where(Post.id == 1).options(selectinload(Post.comments))"),
          ["obj.comment_count", "obj.by_author('u1')"]),
        S("members_hybrid_missing", q("select(Post).where(Post.id == 1).options(raiseload(Post.author))"),
          ["obj.comment_count", "obj.by_author('u1')"]),
        # Association proxies (iterated: the collection proxy reads when used) and super().
        S("members_proxy", q(f"{user1}.options(selectinload(User.posts))"), ["list(obj.post_titles)"]),
        S("members_proxy_missing", q(user1), ["list(obj.post_titles)"]),
        S("members_proxy_nested", q("select(Post).where(Post.id == 1).options(selectinload(Post.comments)"
                                    ".selectinload(Comment.author))"), ["list(obj.comment_authors)"]),
        S("members_proxy_nested_missing", q("select(Post).where(Post.id == 1).options(selectinload(Post.comments))"),
          ["list(obj.comment_authors)"]),
        S("members_proxy_scalar", q("select(Post).where(Post.id == 1)"), ["obj.author_name"]),
        S("members_proxy_scalar_backref", q(f"{user1}.options(selectinload(User.posts))"),
          ["obj.posts[0].author_name"]),
        S("members_super_ok", q("select(Group).where(Group.id == 1).options(selectinload(Group.members))"),
          ["obj.owner_label()"]),
        S("members_super_own_missing", q("select(Group).where(Group.id == 1)"), ["obj.owner_label()"]),
        S("members_super_base_missing", q("select(Group).where(Group.id == 1).options(raiseload(Group.owner),"
                                          " selectinload(Group.members))"), ["obj.owner_label()"]),
        # Repositories that apply the caller's options.
        S("repo_options", got("await repo_optionsRepo(session).get_by_id(1, options=[selectinload(User.posts)])"),
          ["obj.posts", "obj.addresses", "obj.posts[0].comments"], helpers=with_repo("repo_options")),
        S("repo_no_options", got("await repo_no_optionsRepo(session).get_by_id(1)"),
          ["obj.posts", "obj.profile"], helpers=with_repo("repo_no_options")),
        S("repo_session_get", got("await repo_session_getRepo(session).get(1, options=[joinedload(User.addresses)])"),
          ["obj.addresses", "obj.posts"], helpers=with_repo("repo_session_get")),
        S("repo_list", ["rows = await repo_listRepo(session).all(options=[joinedload(User.posts)])",
                        "obj = rows[0]"], ["obj.posts", "obj.addresses"], helpers=with_repo("repo_list")),
        S("repo_fixed", got("await repo_fixedRepo(session).fixed()"),
          ["obj.posts", "obj.addresses"], helpers=with_repo("repo_fixed")),
        # Column options inside a service's summary (followed through the layers).
        S("repo_columns_service", ["obj = await repo_columns_serviceSvc().slim(session)"],
          ["obj.name", "obj.bio", "obj.secret", "obj.email", "obj.posts[0].body", "obj.posts[0].title"],
          helpers=[*with_repo("repo_columns_service"),
                   "class repo_columns_serviceSvc:",
                   "    async def slim(self, session: AsyncSession) -> User:",
                   "        found = await repo_columns_serviceRepo(session).get_by_id(1, options=["
                   "load_only(User.name, raiseload=True), undefer(User.bio), "
                   "selectinload(User.posts).undefer(Post.body)])",
                   "        assert found is not None",
                   "        return found"]),
        S("repo_columns_group", ["obj = await repo_columns_groupSvc().contact(session)"],
          ["obj.email", "obj.phone", "obj.bio", "obj.posts[0].body"],
          helpers=[*with_repo("repo_columns_group"),
                   "class repo_columns_groupSvc:",
                   "    async def contact(self, session: AsyncSession) -> User:",
                   "        found = await repo_columns_groupRepo(session).get_by_id(1, options=["
                   "undefer_group('contact'), selectinload(User.posts).defer(Post.title, raiseload=True)])",
                   "        assert found is not None",
                   "        return found"]),
        S("repo_generic", got("await PostRepository(session).first(options=[selectinload(Post.tags)])"),
          ["obj.tags", "obj.comments"], helpers=generic, root="Post"),
        S("repo_sync", ["obj0 = repo_syncSyncRepo(session).get_by_id(1, options=[raiseload(User.profile)])",
                        "assert obj0 is not None", "obj = obj0"],
          ["obj.profile", "obj.posts", "obj.comments"], sync=True,
          helpers=["class repo_syncSyncRepo:",
                   "    def __init__(self, session: Session) -> None:",
                   "        self.session = session",
                   "    def get_by_id(self, id: int, options: Sequence[ExecutableOption] = ()) -> User | None:",
                   "        stmt = select(User).where(User.id == id).options(*options)",
                   "        return self.session.execute(stmt).scalar_one_or_none()"]),
    ]


def strict(count: int, seed: int = 7) -> list[Scenario]:
    """Strict mode: a plain model parameter counts as its model's defaults. Each scenario
    passes an object of ``select(Root)`` (defaults only) to a function typed with the plain
    model that reads a random path; the plugin reports the read inside it exactly when the
    read fails."""
    rng = random.Random(seed)
    out: list[Scenario] = []
    while len(out) < count:
        root = rng.choice(sorted(GRAPH))
        read = random_probe(rng, root)
        name = f"strict_{len(out)}"
        out.append(Scenario(
            name, fetch(root, f"select({root})", 0), [f"plain_{name}(obj)"], root=root,
            helpers=[f"def plain_{name}(x: {root}) -> object:",
                     f"    return {read.replace('obj.', 'x.', 1)}"],
            helper_probes={1: 0}, reads={0: read}))
    return out


# ---------------------------------------------------------------------------------------
# Issue 18: the session's operations between the query and the reads. Each scenario fetches
# one object, runs a random sequence of commit / rollback / expire / refresh / close /
# expunge on its session, then reads columns, the primary key and relationships (one level:
# what lies beyond an expired relationship is not this check's business). The harness runs
# them in sessions with SQLAlchemy's defaults, so mypy runs with ``expire_on_commit = true``
# (the sessions are parameters: the code does not show how they were made).

_LIFECYCLE_ROOTS = {"User": (["name", "bio"], ["posts", "profile", "groups", "comments"]),
                    "Post": (["title", "body"], ["author", "comments", "tags"])}


def _lifecycle_op(rng: random.Random, columns: list[str], rels: list[str], last: bool, sync: bool) -> str:
    attr = rng.choice(columns + rels)
    ops = ["await session.commit()", "await session.rollback()", "session.expire(obj)",
           f"session.expire(obj, ['{attr}'])", "session.expire_all()", "await session.refresh(obj)",
           f"await session.refresh(obj, ['{attr}'])"]
    if last and not sync:
        # Detached: a sync session's lazy load of a relationship never loaded fails there too,
        # which the relationship check (lazy loads succeed in sync sessions) does not claim.
        ops += ["await session.close()", "session.expunge(obj)"]
    return rng.choice(ops)


def _lifecycle_draw(rng: random.Random, sync: bool
                    ) -> tuple[str, list[str], list[str], list[str], str, list[str]]:
    """A root, its columns and relationships, the ones the query loads, the query, and 1-3
    operations."""
    root = rng.choice(sorted(_LIFECYCLE_ROOTS))
    columns, rels = _LIFECYCLE_ROOTS[root]
    loaded = rng.sample(rels, rng.randint(0, 2))
    stmt = f"select({root})" + (f".options({', '.join(f'selectinload({root}.{r})' for r in loaded)})"
                                if loaded else "")
    steps = rng.randint(1, 3)
    ops = [_lifecycle_op(rng, columns, rels, i == steps - 1, sync) for i in range(steps)]
    return root, columns, rels, loaded, stmt, ops


def lifecycle(count: int, seed: int = 18) -> list[Scenario]:
    rng = random.Random(seed)
    out = []
    for n in range(count):
        sync = n % 4 == 3
        root, columns, rels, loaded, stmt, ops = _lifecycle_draw(rng, sync)
        setup = fetch(root, stmt, 0) + ops
        if sync:
            setup = [line.replace("await ", "") for line in setup]
        probes = sorted({f"obj.{rng.choice(columns)}", "obj.id", f"obj.{rng.choice(loaded or rels)}",
                         f"obj.{rng.choice(rels)}"})
        # What refresh(obj, [a relationship]) does to the other columns depends on the
        # relationship (measured, rule not known): the plugin claims nothing about them.
        unknown = any(f"refresh(obj, ['{rel}'])" in op for op in ops for rel in rels)
        # A sync session reloads a wholly expired object on its first attribute access, with
        # the query's options; a lazy="raise" relationship read first raises instead, read
        # after another attribute it is back (measured): order the plugin does not follow.
        unknown = unknown or (sync and any(op.endswith(("commit()", "rollback()", "expire(obj)",
                                                        "expire_all()")) for op in ops))
        out.append(Scenario(f"lifecycle_{n}", setup, probes, root=root, sync=sync, unknown=unknown))
    return out


# Issue 18 through the application's layers: the object comes from a loading helper or the
# query itself; a slice of the operations runs in a helper function or in a method of an
# object made with the session (``self.session``); the session is the parameter (mypy runs
# with ``expire_on_commit = true``) or one made by a factory of another module, which
# says otherwise (``dsessions.keep``: expire_on_commit=False) or the same (``plain``).
# ``module_functions``: whether the plugin summarises module-level functions (mypy 2.x);
# without, the scenarios that need it are documented unknown.

def lifecycle_layers(count: int, seed: int = 180, module_functions: bool = True) -> list[Scenario]:
    rng = random.Random(seed)
    out = []
    for n in range(count):
        sync = n % 4 == 3
        root, columns, rels, loaded, stmt, ops = _lifecycle_draw(rng, sync)
        if rng.random() < 0.3:
            ops.insert(rng.randrange(len(ops) + 1), "await session.flush()")
        helpers: list[str] = []
        through_functions = False
        if rng.random() < 0.5:
            helpers += [f"async def lc_load_{n}(session: AsyncSession) -> {root}:",
                        f"    return (await session.execute({stmt}.where({root}.id == 1))).unique().scalar_one()"]
            setup = [f"obj = await lc_load_{n}(session)"]
            through_functions = True
        else:
            setup = fetch(root, stmt, 0)
        style = rng.choice(["direct", "function", "method"])
        first = rng.randrange(len(ops))
        last = rng.randint(first + 1, len(ops))
        moved = [op.replace("obj", "x") for op in ops[first:last]]
        if style == "function":
            helpers += [f"async def lc_ops_{n}(session: AsyncSession, x: {root}) -> None:",
                        *("    " + op for op in moved)]
            ops[first:last] = [f"await lc_ops_{n}(session, obj)"]
            through_functions = True
        elif style == "method":
            helpers += [f"class LcOps{n}:",
                        "    def __init__(self, session: AsyncSession) -> None:",
                        "        self.session = session",
                        "",
                        f"    async def run(self, x: {root}) -> None:",
                        *("        " + op.replace("session.", "self.session.") for op in moved)]
            setup.append(f"ops = LcOps{n}(session)")
            ops[first:last] = ["await ops.run(obj)"]
        factory = rng.choice(["", "", "keep", "plain", "keep_session", "plain_session"])
        if factory.endswith("_session") and not module_functions:
            factory = factory[:-len("_session")]  # mypy 1.x: no module summaries to follow
        wrap = f"async with dsessions.{factory}(bind=outer.bind) as session:" if factory else ""
        setup += ops
        if sync:
            helpers = [_sync(line) for line in helpers]
            setup = [_sync(line) for line in setup]
            wrap = _sync(wrap.replace("dsessions.", "dsessions.sync_"))
        probes = sorted({f"obj.{rng.choice(columns)}", "obj.id", f"obj.{rng.choice(loaded or rels)}",
                         f"obj.{rng.choice(rels)}"})
        unknown = any(f"refresh(obj, ['{rel}'])" in op or f"refresh(x, ['{rel}'])" in op
                      for op in ops + moved for rel in rels)
        unknown = unknown or (sync and any(op.endswith(("commit()", "rollback()", "expire(obj)",
                                                        "expire(x)", "expire_all()"))
                                           for op in ops + moved))
        unknown = unknown or (through_functions and not module_functions)
        out.append(Scenario(f"lclayer_{n}", setup, probes, root=root, sync=sync, unknown=unknown,
                            helpers=helpers, wrap=wrap))
    return out


def _sync(line: str) -> str:
    return line.replace("async def", "def").replace("async with", "with").replace("await ", "") \
        .replace("AsyncSession", "Session")
