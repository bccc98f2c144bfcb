"""The arrows between the layers run one way: adapters → engine (bot/) → backends, with
storage behind the engine's ports. Read from the source with ast (nothing is imported).

What each layer may import, by module name:

- ``bot/`` (the engine, the backends, the composition root ``bot.app``, the CLI): nothing
  from ``adapters`` or ``storage`` and no platform or database library (``telegram``,
  ``discord``, ``sqlalchemy``, ``alembic``). The core finds platforms and the store through
  the ``redraw.platforms`` and ``redraw.storage`` entry points (``bot.app.plugins``).
- ``bot/engine/``, in addition, never imports the composition root ``bot.app`` or the CLI.
- ``storage/``: nothing from ``adapters``; from ``bot`` only the engine's port and records
  (``bot.engine.store``, ``bot.engine.records``), the blob store protocol and its errors
  (``bot.blobs``), the errors both sides raise (``bot.errors``: ``DatabaseUnusable``), and
  two leaf helpers that import nothing else of Redraw's: ``bot.images.offload`` (blob files are
  hashed on the image pool) and ``bot.telemetry.redaction`` (no password in a database error line).
- ``adapters/``: nothing from ``storage``.
- No two modules import each other (at module level or inside a function).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("bot", "adapters", "storage")
PLATFORM_AND_DATABASE_LIBRARIES = ("telegram", "discord", "sqlalchemy", "alembic")
STORAGE_MAY_USE = (
    "bot.engine.store",
    "bot.engine.records",
    "bot.blobs",
    "bot.errors",
    "bot.images.offload",
    "bot.telemetry.redaction",
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports (``from a import b`` counts as ``a`` and ``a.b``)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    return {
        _module_name(path): _imports(path)
        for layer in LAYERS
        for path in sorted((ROOT / layer).rglob("*.py"))
    }


def _under(name: str, *packages: str) -> bool:
    return any(name == package or name.startswith(package + ".") for package in packages)


def test_the_core_names_no_adapter_store_or_platform_library() -> None:
    wrong = {
        (module, name)
        for module, names in _graph().items()
        if _under(module, "bot")
        for name in names
        if _under(name, "adapters", "storage", *PLATFORM_AND_DATABASE_LIBRARIES)
    }
    assert not wrong, sorted(wrong)


def test_the_engine_never_imports_the_composition_root() -> None:
    wrong = {
        (module, name)
        for module, names in _graph().items()
        if _under(module, "bot.engine")
        for name in names
        if _under(name, "bot.app", "bot.app.cli")
    }
    assert not wrong, sorted(wrong)


def test_storage_uses_only_the_engines_ports() -> None:
    wrong = {
        (module, name)
        for module, names in _graph().items()
        if _under(module, "storage")
        for name in names
        if _under(name, "adapters") or (_under(name, "bot") and not _under(name, *STORAGE_MAY_USE))
    }
    assert not wrong, sorted(wrong)


def test_adapters_never_reach_storage() -> None:
    wrong = {
        (module, name)
        for module, names in _graph().items()
        if _under(module, "adapters")
        for name in names
        if _under(name, "storage")
    }
    assert not wrong, sorted(wrong)


def test_no_two_modules_import_each_other() -> None:
    graph = _graph()
    # An import of a name inside a module (``from a import b``) counts as importing ``a``.
    edges = {module: {name for name in names if name in graph} - {module} for module, names in graph.items()}
    circles = {
        tuple(sorted((a, b))) for a, targets in edges.items() for b in targets if a in edges.get(b, ())
    }
    assert not circles, sorted(circles)
