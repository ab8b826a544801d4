"""Fills English translations and lists what is still missing.

    python scripts/po_fill.py [TRANSLATIONS.tsv ...]

Each TSV line is `french<TAB>english` (`\\n` for a newline). Entries of
locale/en/LC_MESSAGES/django.po whose msgid matches get that msgstr (and lose the fuzzy
flag); then every untranslated or fuzzy entry is printed. Exit code 1 while any is missing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import polib

PO_PATH = Path(__file__).resolve().parent.parent / "locale" / "en" / "LC_MESSAGES" / "django.po"


def main(paths: list[str]) -> int:
    po = polib.pofile(str(PO_PATH))
    table: dict[str, str] = {}
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if "\t" in line:
                french, english = line.split("\t", 1)
                table[french.replace("\\n", "\n")] = english.replace("\\n", "\n")
    for entry in po:
        if entry.msgid in table:
            if entry.msgid_plural:
                plural = table.get(entry.msgid_plural, table[entry.msgid])
                entry.msgstr_plural = {0: table[entry.msgid], 1: plural}
            else:
                entry.msgstr = table[entry.msgid]
            if "fuzzy" in entry.flags:
                entry.flags.remove("fuzzy")
    po.save()
    missing = [
        entry
        for entry in po
        if not entry.obsolete and (entry.fuzzy or not (entry.msgstr or any((entry.msgstr_plural or {}).values())))
    ]
    for entry in missing:
        print(repr(entry.msgid), "|", repr(entry.msgid_plural) if entry.msgid_plural else "")
    print(f"{len(missing)} missing")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
