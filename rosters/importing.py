"""Class lists read from what teachers have: a CSV or XLSX exported by Pronote or an ENT, or
lines pasted from a spreadsheet or typed.

Pure (no database): bytes or text in, `RosterRow`s out, or a RosterError naming the lines that
cannot be read. Columns are found by their headers (any row among the first ones, so title lines
above the table are skipped); `;`, `,` or tab separators; UTF-8, UTF-16 (Excel's "Unicode
text") or Windows-1252; "NOM Prénom" in one column (Pronote's "Élève") or two columns. Without a
header, one column is "NOM Prénom" and two columns are last name, first name.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.text import fold

from .errors import RosterError

MAX_BYTES = 1_000_000
MAX_STUDENTS = 200
MAX_ROWS = 1000  # rows read from a file, blank ones included
HEADER_SEARCH_ROWS = 10
NAME_MAX = 100
ERRORS_SHOWN = 5

# Folded header names (core.text.fold) → the column they name.
HEADERS = {
    "last": {"nom", "nom de famille", "nom eleve", "nom d usage", "last name", "lastname", "surname", "family name"},
    "first": {"prenom", "prenoms", "prenom eleve", "first name", "firstname", "given name"},
    "full": {
        "eleve",
        "eleves",
        "nom prenom",
        "nom prenoms",
        "nom et prenom",
        "nom et prenoms",
        "identite",
        "student",
        "students",
        "name",
        "full name",
        "student name",
    },
    "number": {
        "n",
        "no",
        "num",
        "numero",
        "numero eleve",
        "n eleve",
        "ine",
        "numero ine",
        "n ine",
        "no ine",
        "id",
        "identifiant",
        "matricule",
        "number",
        "student number",
    },
    "email": {
        "email",
        "e mail",
        "mail",
        "courriel",
        "adresse mail",
        "adresse e mail",
        "adresse email",
        "adresse electronique",
    },
}


@dataclass(frozen=True)
class RosterRow:
    line: int  # in the file or the pasted text, 1-based: what an error names
    last_name: str
    first_name: str
    number: str = ""
    email: str = ""


def split_full_name(text: str) -> tuple[str, str]:
    """(last, first) of "NOM Prénom" (Pronote), "Nom, Prénom", or "Nom Prénom" typed by hand.

    The leading words written in capitals are the last name ("DE LA FONTAINE Jean-Baptiste");
    without capitals, or when everything is in capitals, the first word is.
    """
    text = " ".join(text.split())
    if "," in text:
        last, first = text.split(",", 1)
        return last.strip(), first.strip()
    words = text.split(" ")
    capitals = 0
    for word in words:
        if any(char.isalpha() for char in word) and word == word.upper():
            capitals += 1
        else:
            break
    if capitals == 0 or capitals == len(words):
        capitals = 1
    return " ".join(words[:capitals]), " ".join(words[capitals:])


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return " ".join(str(value).split())


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    else:
        for encoding in ("utf-8-sig", "cp1252"):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                continue
    raise RosterError(_("Ce fichier n'est pas un texte lisible (ni UTF-8 ni Windows-1252) : enregistrez-le en CSV."))


def _delimiter(lines: list[str]) -> str:
    sample = [line for line in lines if line.strip()][:20]
    best, best_count = ",", 0
    for candidate in ("\t", ";", ","):
        count = sum(candidate in line for line in sample)
        if count > best_count:
            best, best_count = candidate, count
    return best


def table_from_text(text: str) -> list[tuple[int, list[str]]]:
    """(line number, cells) of a CSV or of pasted lines, blank lines kept out."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(lines))
    table = []
    try:
        for cells in reader:
            if reader.line_num > MAX_ROWS:
                break
            row = [_cell(cell) for cell in cells]
            if any(row):
                table.append((reader.line_num, row))
    except csv.Error as error:
        raise RosterError(
            _("Ligne %(line)s : illisible (%(reason)s).") % {"line": reader.line_num, "reason": error}
        ) from error
    return table


def table_from_xlsx(data: bytes) -> list[tuple[int, list[str]]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
        table = []
        for number, values in enumerate(sheet.iter_rows(max_row=MAX_ROWS, values_only=True), start=1):
            row = [_cell(value) for value in values]
            if any(row):
                table.append((number, row))
        workbook.close()
    except (zipfile.BadZipFile, KeyError, ValueError, IndexError, OSError, TypeError) as error:
        raise RosterError(
            _("Ce classeur XLSX est illisible (%(reason)s).") % {"reason": type(error).__name__}
        ) from error
    return table


def table_from_file(data: bytes) -> list[tuple[int, list[str]]]:
    if len(data) > MAX_BYTES:
        raise RosterError(_("Ce fichier dépasse 1 Mo : une liste de classe est bien plus petite."))
    if data.startswith(b"PK\x03\x04"):
        return table_from_xlsx(data)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise RosterError(
            _("Les classeurs .xls (Excel 97-2003) ne sont pas lus : enregistrez la liste en XLSX ou CSV.")
        )
    utf16 = data.startswith((b"\xff\xfe", b"\xfe\xff"))
    if not utf16 and (data.startswith(b"%PDF") or b"\x00" in data[:4096]):
        raise RosterError(
            _("Ce fichier n'est ni un CSV ni un classeur XLSX : exportez la liste de la classe en CSV ou XLSX.")
        )
    return table_from_text(_decode(data))


def _columns(table: list[tuple[int, list[str]]]) -> tuple[int, dict[str, int]]:
    """The header row's index in `table` and the columns it names; (-1, guessed columns) without."""
    for index, (_line, cells) in enumerate(table[:HEADER_SEARCH_ROWS]):
        found: dict[str, int] = {}
        for column, cell in enumerate(cells):
            key = fold(cell)
            for kind, names in HEADERS.items():
                if key in names and kind not in found:
                    found[kind] = column
        if "last" in found or "full" in found:
            return index, found
    width = max((sum(1 for cell in cells if cell) for _line, cells in table), default=0)
    return -1, ({"last": 0, "first": 1} if width >= 2 else {"full": 0})


def rows_from_table(table: list[tuple[int, list[str]]]) -> list[RosterRow]:
    """The students of a table; RosterError naming every line that cannot be read."""
    header, columns = _columns(table)
    rows: list[RosterRow] = []
    errors: list[str] = []

    def get(cells: list[str], kind: str) -> str:
        column = columns.get(kind)
        return cells[column].strip() if column is not None and column < len(cells) else ""

    for line, cells in table[header + 1 :]:
        if "full" in columns and "last" not in columns:
            last, first = split_full_name(get(cells, "full"))
        else:
            last, first = get(cells, "last"), get(cells, "first")
        number, email = get(cells, "number"), get(cells, "email")
        if not last:
            errors.append(_("Ligne %(line)s : le nom de l'élève est vide.") % {"line": line})
            continue
        if len(last) > NAME_MAX or len(first) > NAME_MAX or len(number) > 50:
            errors.append(_("Ligne %(line)s : ce nom est trop long pour un nom d'élève.") % {"line": line})
            continue
        if email:
            try:
                validate_email(email)
            except ValidationError:
                errors.append(
                    _("Ligne %(line)s : « %(email)s » n'est pas une adresse e-mail valide.")
                    % {"line": line, "email": email[:80]}
                )
                continue
        rows.append(RosterRow(line=line, last_name=last, first_name=first, number=number, email=email))
    if errors:
        shown = errors[:ERRORS_SHOWN]
        if len(errors) > ERRORS_SHOWN:
            rest = len(errors) - ERRORS_SHOWN
            shown.append(ngettext("… et %(n)s autre ligne.", "… et %(n)s autres lignes.", rest) % {"n": rest})
        raise RosterError(_("Rien n'a été importé.") + " " + " ".join(shown))
    if not rows:
        raise RosterError(_("Aucun élève trouvé : il faut une colonne « Nom » (ou « Élève ») et une ligne par élève."))
    if len(rows) > MAX_STUDENTS:
        raise RosterError(
            _("Rien n'a été importé : %(count)s élèves, plus que les %(max)s d'une classe.")
            % {"count": len(rows), "max": MAX_STUDENTS}
        )
    return rows


def roster_rows_parse(*, data: bytes | None = None, text: str = "") -> list[RosterRow]:
    """The students of an uploaded file (`data`) or of pasted lines (`text`)."""
    table = table_from_file(data) if data is not None else table_from_text(text)
    return rows_from_table(table)
