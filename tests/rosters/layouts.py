"""Class lists as teachers get them: built here, byte for byte, in the shapes Pronote and ENTs
export them (no real student's name: invented ones with the usual traps)."""

from __future__ import annotations

import io

# (last name, first name): accents, compound and particle names, an apostrophe, two "Martin".
CLASS_3B = [
    ("ABADIE", "Léa"),
    ("BENOÎT", "Théo"),
    ("DE LA FONTAINE", "Jean-Baptiste"),
    ("DUBOIS", "Chloé"),
    ("MARTIN", "Lucas"),
    ("MARTIN", "Manon"),
    ("MARTIN-DUVAL", "Anne-Sophie"),
    ("N'DIAYE", "Awa"),
    ("ØSTERGÅRD", "Émile"),
    ("ZAÏDI", "Inès"),
]


def pronote_csv() -> bytes:
    """Pronote's "Liste des élèves" export: Windows-1252, `;`, a title line, "Élève" as "NOM Prénom"."""
    lines = ["Liste des élèves - 3e B;;;;", "Élève;Né(e) le;Sexe;Classe;Adresse e-mail"]
    for n, (last, first) in enumerate(CLASS_3B, start=1):
        email = f"eleve{n}@college.example" if n % 3 else ""
        lines.append(f"{last} {first};0{n % 9 + 1}/03/2012;{'F' if n % 2 else 'G'};3e B;{email}")
    # "Ø" and "Å" are not in Windows-1252: Pronote writes them as "O" and "A" there.
    text = "\r\n".join(lines).replace("Ø", "O").replace("Å", "A") + "\r\n"
    return text.encode("cp1252")


def ent_xlsx() -> bytes:
    """An ENT's export: a workbook with a title row, a blank row, then Nom / Prénom / INE / Mail."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Classe de 3e B — année 2026-2027"])
    sheet.append([])
    sheet.append(["Nom", "Prénom", "N° INE", "Mail"])
    for n, (last, first) in enumerate(CLASS_3B, start=1):
        sheet.append([last.title(), first, 100000 + n, f"eleve{n}@college.example"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def pasted_from_spreadsheet() -> str:
    """Two columns copied from a spreadsheet: tab-separated, a header, a trailing blank line."""
    return "Nom\tPrénom\n" + "".join(f"{last}\t{first}\n" for last, first in CLASS_3B) + "\n"


def pasted_names() -> str:
    """Names typed or pasted one per line, "NOM Prénom", with stray spaces and a blank line."""
    return "\n".join(f"  {last}   {first} " for last, first in CLASS_3B[:5]) + "\n\n" + "ZAÏDI Inès\n"


def xlsx_bytes(rows: list[list]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
