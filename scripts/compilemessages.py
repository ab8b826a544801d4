"""Compiles every locale/*/LC_MESSAGES/*.po to .mo with polib (no GNU gettext needed)."""

from __future__ import annotations

import sys
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    count = 0
    for po_path in sorted((ROOT / "locale").glob("*/LC_MESSAGES/*.po")):
        po = polib.pofile(str(po_path))
        po.save_as_mofile(str(po_path.with_suffix(".mo")))
        count += 1
    print(f"compiled {count} catalogue(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
