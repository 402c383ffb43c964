"""Same diagnostics in every mode, over the typesafety suite, the example app and scenarios.

For each state of the corpus (as written, then after each edit below, cumulatively) a cold
run with a fresh cache is the reference; an incremental run on a cache left by the previous
state, the same with ``--num-workers 2`` (where mypy has it), the same with the other cache
format (JSON or binary), and a dmypy recheck must all print exactly the same lines.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest

from tests import modes
from tests.differential import scenarios


def _replace(path: str, old: str, new: str) -> Callable[[Path], None]:
    def edit(tmp: Path) -> None:
        text = (tmp / path).read_text()
        assert old in text, f"{path}: {old!r} not found"
        (tmp / path).write_text(text.replace(old, new))

    return edit


def _append(path: str, text: str) -> Callable[[Path], None]:
    def edit(tmp: Path) -> None:
        with open(tmp / path, "a") as fh:
            fh.write(text)

    return edit


EDITS: list[tuple[str, Callable[[Path], None]]] = [
    ("query module", _append("scenarios_mod.py", (
        "\n\nasync def added(session: AsyncSession) -> None:\n"
        "    u = (await session.execute(select(User))).scalar_one()\n"
        "    u.posts\n    u.addresses\n    u.extra\n"))),  # extra: added and removed below
    ("Loaded[...] annotation edited", _replace(
        "services.py", 'def render(user: Loaded[User, "addresses"]) -> int:\n    return len(user.addresses)',
        'def render(user: Loaded[User, "posts.comments"]) -> int:\n    return len(user.posts)')),
    ("repository body edited", _replace(
        "services.py", "select(User).where(User.id == id).options(*options)",
        "select(User).where(User.id == id).options(*options).options(raiseload(User.posts))")),
    # Issue 17: summaries of layers in another module than the reads (handlers.py imports
    # only services.py, which imports repositories.py).
    ("option provider edited (its own module)", _replace(
        "shop/repositories.py",
        "return (joinedload(Order.customer), selectinload(Order.items).joinedload(Item.product))",
        "return (selectinload(Order.items).joinedload(Item.product),)")),
    ("generic repository base body edited (its own module)", _replace(
        "shop/repositories.py", "statement = self.get_base_statement().filter_by(id=id).options(*options)",
        "statement = self.get_base_statement().filter_by(id=id)")),
    ("refreshing helper edited", _replace(
        "shop/services.py", 'await session.refresh(order, {"customer", "items"})',
        'await session.refresh(order, {"customer"})')),
    ("member body edited", _replace("dmodels.py", "        return len(self.posts)\n",
                                    "        return len(self.addresses)\n")),
    ("mixin member body edited (its own module)", _replace(
        "ownmixin.py", "        return self.writer.name\n",
        "        return self.writer.name + str(len(self.writer.posts))\n")),
    ("pydantic schema gains a field (its own module)", _replace(
        "ownschemas.py", "    name: str\n", "    name: str\n    addresses: list[object]\n")),
    ("mixin lazy= changed (its own module)", _replace("ownmixin.py", 'lazy="joined"', 'lazy="raise"')),
    ("lazy= changed", _replace("dmodels.py", 'back_populates="author", lazy=RAISE)',
                               'back_populates="author", lazy="selectin")')),
    # Issue 20: a Final constant a mapping reads, changed in its own module.
    ("mapping constant changed (its own module)", _replace(
        "dconsts.py", 'SELECTIN: Final = "selectin"', 'SELECTIN: Final = "raise"')),
    ("example lazy= changed", _replace("blog/models.py", 'back_populates="user", lazy="selectin")',
                                       'back_populates="user")')),
    ("relationship added", _replace("dmodels.py", "    addresses: Mapped[list[Address]]",
                                    "    extra: Mapped[list[Address]] = relationship(viewonly=True)\n"
                                    "    addresses: Mapped[list[Address]]")),
    ("relationship renamed", _replace("dmodels.py", "    addresses: Mapped[list[Address]]",
                                      "    places: Mapped[list[Address]]")),
    ("relationship removed", _replace(
        "dmodels.py", "    extra: Mapped[list[Address]] = relationship(viewonly=True)\n", "")),
]

# mypy 2.x: module-level option tuples are summarised. Before the edit that makes get_by_id
# drop its options.
if scenarios.module_summaries():
    # A FastAPI dependency's body (a module-level function; dmypy's AST merge keeps the
    # module's tree object, which a cache of summaries must not take for the old one).
    EDITS.insert(3, ("dependency body edited (its own module)", _replace(
        "shop/deps.py", "    order = await order_service.get_bare(session, id)\n",
        "    order = await order_service.get(session, id)\n")))
    EDITS.insert(3, ("module-level option tuple edited (its own module)", _replace(
        "shop/repositories.py", "(joinedload(Order.customer), selectinload(Order.items))\n",
        "(joinedload(Order.customer), selectinload(Order.items).joinedload(Item.product))\n")))


@pytest.mark.slow
@pytest.mark.modes
def test_every_mode_agrees(tmp_path: Path) -> None:
    # mypy 2.x: binary cache by default, JSON with --no-fixed-format-cache, workers with
    # --num-workers. mypy 1.19: JSON by default, binary with --fixed-format-cache, no workers.
    flags = modes.supported_flags()
    other_cache = "--no-fixed-format-cache" if "--no-fixed-format-cache" in flags else "--fixed-format-cache"
    parallel = ["--num-workers", "2"] if "--num-workers" in flags else []
    targets = modes.build(tmp_path)
    daemon = modes.Daemon(tmp_path, targets)
    daemon.start()
    try:
        states = [("as written", None), *EDITS]
        seen: list[list[str]] = []
        seed: Path | None = None
        for i, (label, edit) in enumerate(states):
            if edit is not None:
                edit(tmp_path)
            # The first cold run analyses everything; later ones start from its libraries.
            cold = modes.mypy(tmp_path, targets, f".cache_cold{i}", seed=seed if i else None)
            if i == 0:
                seed = modes.library_seed(tmp_path, ".cache_cold0")
            assert any("[unloaded-relationship]" in line for line in cold)
            runs = {
                "incremental": modes.mypy(tmp_path, targets, ".cache_inc"),
                other_cache: modes.mypy(tmp_path, targets, ".cache_other", other_cache),
                "dmypy": daemon.check(),
            }
            if parallel:
                runs["--num-workers 2"] = modes.mypy(tmp_path, targets, ".cache_par", *parallel)
            if i == 0:
                runs["warm, no change"] = modes.mypy(tmp_path, targets, ".cache_inc")
                if parallel:
                    runs["--num-workers 2 warm"] = modes.mypy(tmp_path, targets, ".cache_par", *parallel)
            for mode, lines in runs.items():
                assert lines == cold, _diff(f"{label}: {mode}", cold, lines)
            seen.append(cold)
        # Each edit must have changed what mypy says, or it tested nothing.
        same = [states[i + 1][0] for i, (a, b) in enumerate(itertools.pairwise(seen)) if a == b]
        assert same == [], f"edits that changed nothing: {same}"
    finally:
        daemon.stop()


def _diff(label: str, cold: list[str], other: list[str]) -> str:
    missing = sorted(set(cold) - set(other))
    extra = sorted(set(other) - set(cold))
    return f"{label} differs from a cold run\n  missing: {missing[:8]}\n  extra: {extra[:8]}"


# Issue 20: each `dmypy run` after a change to the plugin's settings gives the cold run's
# output (the daemon restarts, as it does for mypy's own options). `dmypy check` keeps the
# daemon's configuration, mypy's own included: docs/guide.md says so.
SETTINGS = [
    "",
    "[mypy_eagerload]\nstrict = true\n",
    "[mypy_eagerload]\nstrict = true\nallow_lazy_loads = always\n",
    "[mypy_eagerload]\ndisabled_checks = unloaded-column\n",
    "[mypy_eagerload]\nallow_lazy_loads = never\n",
    "",
]


@pytest.mark.slow
@pytest.mark.modes
def test_dmypy_run_follows_settings_changes(tmp_path: Path) -> None:
    from tests.test_config import MODULE, SYNC_MODULE

    (tmp_path / "mod.py").write_text(MODULE)
    (tmp_path / "syncmod.py").write_text(SYNC_MODULE)
    targets = ["mod.py", "syncmod.py"]
    daemon = modes.Daemon(tmp_path, targets)
    outputs = []
    try:
        for i, section in enumerate(SETTINGS):
            (tmp_path / "mypy.ini").write_text("[mypy]\nplugins = mypy_eagerload.plugin\n" + section)
            cold = modes.mypy(tmp_path, targets, f".cache_cold{i}")
            assert daemon.run() == cold, f"dmypy run after settings {section!r}"
            outputs.append(cold)
    finally:
        daemon.stop()
    # Every change showed in the output (else the test proved nothing).
    assert all(a != b for a, b in itertools.pairwise(outputs[:-1])), outputs
