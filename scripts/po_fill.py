"""Fills English translations, fills the French plurals, and lists what is still missing.

    python scripts/po_fill.py [TRANSLATIONS.tsv ...]
    python scripts/po_fill.py --french-plurals      # only the French plurals (make messages)

Each TSV line is `french<TAB>english` (`\\n` for a newline). Entries of
locale/en/LC_MESSAGES/django.po whose msgid matches get that msgstr (and lose the fuzzy
flag); then every untranslated or fuzzy entry is printed. Exit code 1 while any is missing.

French is the source, so its singular entries stay empty (gettext falls back to the msgid).
A plural entry cannot: left empty, gettext falls back with the English rule (n != 1) and
says « 0 copies ». Every plural entry of locale/fr/LC_MESSAGES/*.po therefore gets its own
msgid and msgid_plural as msgstr[0] and msgstr[1], so the catalogue's rule (n > 1) applies.
"""

from __future__ import annotations

import sys
from pathlib import Path

import polib

LOCALE = Path(__file__).resolve().parent.parent / "locale"
PO_PATH = LOCALE / "en" / "LC_MESSAGES" / "django.po"


def fill_french_plurals() -> int:
    """Sets every French plural entry to its own msgid / msgid_plural; returns how many changed."""
    changed = 0
    for path in sorted((LOCALE / "fr" / "LC_MESSAGES").glob("*.po")):
        po = polib.pofile(str(path))
        before = changed
        for entry in po:
            if entry.obsolete or not entry.msgid_plural:
                continue
            forms = {0: entry.msgid, 1: entry.msgid_plural}
            if entry.msgstr_plural != forms or "fuzzy" in entry.flags:
                entry.msgstr_plural = forms
                if "fuzzy" in entry.flags:
                    entry.flags.remove("fuzzy")
                entry.previous_msgid = entry.previous_msgid_plural = None
                changed += 1
        if changed > before:
            po.save()
    return changed


def main(paths: list[str]) -> int:
    print(f"{fill_french_plurals()} French plural(s) filled")
    if paths == ["--french-plurals"]:
        return 0
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
