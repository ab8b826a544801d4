"""manage.py grading_eval FILE.csv: how often the configured grader models agree with a teacher.

The file holds teacher-graded text answers (services.evaluation_file); each is graded again
through the engine (services.evaluation) and the command prints, per model, QWK, mean absolute
error, exact and within-one-step agreement, calls, tokens and cost (README, Operators).
"""

from __future__ import annotations

import json
import os
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import User
from core.errors import ApplicationError

from ...models import Exam
from ...services.evaluation import FINAL, EvalReport, eval_configs, eval_operator, eval_run
from ...services.evaluation_file import eval_file_read

BAR_WIDTH = 30


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text.replace(",", "."))
    except InvalidOperation:
        raise ValueError(text) from None
    if not value.is_finite() or value <= 0:
        raise ValueError(text)
    return value


def _share(value: float | None) -> str:
    # number_format cuts decimals off; rounded first, 2/3 reads 66.7 %.
    return "—" if value is None else f"{number_format(round(value * 100, 1), 1)} %"


def _number(value: float | None, places: int) -> str:
    return "—" if value is None else number_format(round(value, places), places)


class Command(BaseCommand):
    @property
    def help(self) -> str:  # type: ignore[override]  # translated when asked, in the active language
        return _("Note des réponses déjà notées par un enseignant avec les modèles configurés et mesure l'accord.")

    def add_arguments(self, parser: CommandParser) -> None:
        columns = "question, reference_answer, student_answer, score, max_score"
        parser.add_argument("file", type=Path, help=_("CSV, colonnes : %(columns)s") % {"columns": columns})
        parser.add_argument(
            "--mode", choices=["single", "double"], default="single", help=_("un modèle, ou double correction")
        )
        parser.add_argument("--step", type=_decimal, default=Decimal("0.5"), help=_("pas d'arrondi des notes"))
        parser.add_argument("--concurrency", type=int, default=4, help=_("réponses notées en même temps (1 à 32)"))
        parser.add_argument("--max-cost", type=_decimal, default=None, help=_("plafond de dépense en USD"))
        parser.add_argument("--account", default=None, help=_("e-mail du compte qui paie les appels"))
        parser.add_argument("--json", type=Path, default=None, help=_("écrit le rapport en JSON"))

    def handle(self, *args, **options) -> None:
        if not 1 <= options["concurrency"] <= 32:
            raise CommandError(_("--concurrency doit être entre 1 et 32."))
        try:
            rows = eval_file_read(path=options["file"])
            configs = eval_configs(mode=options["mode"])
            user = eval_operator(email=options["account"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        except User.DoesNotExist:
            raise CommandError(_("Aucun compte n'a l'adresse %(email)s.") % {"email": options["account"]}) from None
        self.stderr.write(
            ngettext(
                "%(rows)s réponse ; appels enregistrés au compte %(account)s.",
                "%(rows)s réponses ; appels enregistrés au compte %(account)s.",
                len(rows),
            )
            % {"rows": len(rows), "account": user.email}
        )
        report = eval_run(
            rows=rows,
            user=user,
            configs=configs,
            step=options["step"],
            concurrency=options["concurrency"],
            max_cost=options["max_cost"],
            progress=self._progress,
        )
        self.stderr.write("")
        self._print(report)
        if options["json"]:
            _json_write(options["json"], report, account=user.email)
            self.stderr.write(_("Rapport écrit : %(path)s") % {"path": options["json"]})

    def _progress(self, done: int, total: int, spent: Decimal) -> None:
        filled = BAR_WIDTH * done // total
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        self.stderr.write(f"\r[{bar}] {done}/{total} · {number_format(spent, 6)} USD", ending="")
        self.stderr.flush()

    def _print(self, report: EvalReport) -> None:
        out = self.stdout
        out.write(
            ngettext(
                "Évaluation %(run)s : %(rows)s réponse, mode « %(mode)s », pas de %(step)s point.",
                "Évaluation %(run)s : %(rows)s réponses, mode « %(mode)s », pas de %(step)s point.",
                len(report.rows),
            )
            % {
                "run": report.run,
                "rows": len(report.rows),
                "mode": Exam.Mode(report.mode).label,
                "step": number_format(report.step),
            }
        )
        header = [_("Modèle"), _("Réponses"), "QWK", "MAE", _("Exact"), _("± 1 pas"), _("Appels"), _("Jetons")]
        header.append(_("Coût (USD)"))
        table = [header]
        for figures in report.figures:
            agreement, usage = figures.agreement, figures.usage
            label = _("Note finale") if figures.slot == FINAL else f"{figures.slot.upper()} · {figures.model}"
            row = [label, str(agreement.n), _number(agreement.qwk, 3), _number(agreement.mae, 2)]
            row += [_share(agreement.exact), _share(agreement.within_step)]
            if figures.slot == FINAL:
                row += ["", "", ""]
            else:
                row += [str(usage.calls), number_format(usage.tokens, force_grouping=True)]
                row.append(number_format(usage.cost, 6))
            table.append(row)
        calls = sum(figures.usage.calls for figures in report.figures)
        tokens = sum(figures.usage.tokens for figures in report.figures)
        total = [_("Total"), "", "", "", "", "", str(calls), number_format(tokens, force_grouping=True)]
        table.append([*total, number_format(report.spent, 6)])
        widths = [max(len(line[column]) for line in table) for column in range(len(header))]
        for line in table:
            cells = [cell.rjust(width) for cell, width in zip(line, widths, strict=True)]
            cells[0] = line[0].ljust(widths[0])
            out.write("  ".join(cells).rstrip())
        out.write(
            _("Notées : %(graded)s, en échec : %(failed)s, non lancées (plafond de coût) : %(skipped)s.")
            % {"graded": report.count("graded"), "failed": report.count("failed"), "skipped": report.count("skipped")}
        )
        if report.max_cost is not None:
            out.write(
                _("Dépense : %(spent)s USD sur un plafond de %(cap)s USD.")
                % {"spent": number_format(report.spent, 6), "cap": number_format(report.max_cost)}
            )
        for result in report.rows:
            if result.status == "failed":
                out.write(_("ligne %(line)s : %(error)s") % {"line": result.row.line, "error": result.error})


def _json_write(path: Path, report: EvalReport, *, account: str) -> None:
    """The report, written whole or not at all (a temporary file renamed over the path)."""
    data = {
        "run": report.run,
        "account": account,
        "mode": report.mode,
        "step": str(report.step),
        "max_cost_usd": str(report.max_cost) if report.max_cost is not None else None,
        "spent_usd": str(report.spent),
        "capped": report.capped,
        "rows": {status: report.count(status) for status in ("graded", "failed", "skipped")},
        "models": [
            {
                "slot": figures.slot,
                "model": figures.model,
                "n": figures.agreement.n,
                "qwk": figures.agreement.qwk,
                "mae": figures.agreement.mae,
                "exact": figures.agreement.exact,
                "within_step": figures.agreement.within_step,
                "calls": figures.usage.calls,
                "tokens": figures.usage.tokens,
                "cost_usd": str(figures.usage.cost),
            }
            for figures in report.figures
        ],
        "answers": [
            {
                "line": result.row.line,
                "score": str(result.row.score),
                "max_score": str(result.row.max_score),
                "status": result.status,
                "error": result.error,
                "points": {slot: str(points) for slot, points in result.points.items()},
            }
            for result in report.rows
        ],
    }
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise CommandError(
            _("Rapport JSON non écrit (%(path)s) : %(error)s") % {"path": path, "error": exc.strerror}
        ) from None
