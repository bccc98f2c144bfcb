"""Catalogue upkeep: ``python -m bot.locales [update] [compile]`` (both when none named).

``update`` gives every language's ``.po`` each message English has (new ones empty,
so gettext falls back to English until translated), drops messages English no longer
has, and sets each message's English as a ``#.`` comment for translators. ``compile``
writes each ``.mo`` from its ``.po``.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from bot.locales import DOMAINS, ENGLISH, LOCALES_DIR


def po_files(domain: str) -> list[Path]:
    return sorted(LOCALES_DIR.glob(f"*/LC_MESSAGES/{domain}.po"))


def read(path: Path) -> Catalog:
    with path.open("rb") as file:
        return read_po(file, locale=path.parent.parent.name, domain=path.stem)


def write(path: Path, catalog: Catalog) -> None:
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=0, omit_header=False, sort_output=False)
    path.write_bytes(buffer.getvalue())


def compiled(path: Path) -> bytes:
    """The ``.mo`` bytes of a ``.po``."""
    buffer = io.BytesIO()
    write_mo(buffer, read(path))
    return buffer.getvalue()


def english_text(message: object) -> str:
    msgid = getattr(message, "string", "")
    return " | ".join(msgid) if isinstance(msgid, tuple | list) else str(msgid)


def update(domain: str) -> None:
    english = read(LOCALES_DIR / ENGLISH / "LC_MESSAGES" / f"{domain}.po")
    for path in po_files(domain):
        if path.parent.parent.name == ENGLISH:
            continue
        catalog = read(path)
        merged = Catalog(
            locale=path.parent.parent.name,  # the folder names the language, whatever the header says
            domain=domain,
            project="Redraw",
            version="1",
            fuzzy=False,
            creation_date=catalog.creation_date,
            revision_date=catalog.revision_date,
        )
        for source in english:
            if not source.id:
                continue
            found = catalog.get(source.id)
            strings: str | tuple[str, ...] = ""
            if source.pluralizable:
                strings = ("",) * merged.num_plurals
                old = found.string if found is not None else None
                if isinstance(old, tuple | list) and len(old) == merged.num_plurals:
                    strings = tuple(old)
            elif found is not None and isinstance(found.string, str):
                strings = found.string
            merged.add(source.id, strings, auto_comments=[english_text(source)])
        write(path, merged)


def compile_all(domain: str) -> None:
    for path in po_files(domain):
        path.with_suffix(".mo").write_bytes(compiled(path))


def main(argv: list[str]) -> int:
    steps = argv or ["update", "compile"]
    for domain in DOMAINS:
        if "update" in steps:
            update(domain)
        if "compile" in steps:
            compile_all(domain)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
