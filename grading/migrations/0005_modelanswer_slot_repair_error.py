"""ModelAnswer: `slot` (a/b) instead of `role`, a `repair` flag instead of a "repair" phase and
role suffixes ("a-verif"), and `error` beside `parsed`, which now holds the grades themselves."""

from django.db import migrations, models


def forwards(apps, schema_editor):
    ModelAnswer = apps.get_model("grading", "ModelAnswer")
    for answer in ModelAnswer.objects.all().iterator():
        slot, _, suffix = answer.role.partition("-")
        if answer.phase == "repair":
            answer.repair = True
            answer.phase = "verification" if suffix == "verif" else "grading"
        answer.role = slot
        parsed = answer.parsed if isinstance(answer.parsed, dict) else {}
        if "grades" in parsed:
            answer.parsed = parsed["grades"]
        else:
            answer.error = str(parsed.get("error", ""))
            answer.parsed = None
        answer.save(update_fields=["role", "phase", "repair", "parsed", "error"])


class Migration(migrations.Migration):
    dependencies = [
        ("grading", "0004_verbose_names"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="modelanswer", name="modelanswer_unique_call"),
        migrations.AddField(model_name="modelanswer", name="repair", field=models.BooleanField(default=False)),
        migrations.AddField(model_name="modelanswer", name="error", field=models.TextField(blank=True)),
        migrations.RunPython(forwards, migrations.RunPython.noop),
        migrations.RenameField(model_name="modelanswer", old_name="role", new_name="slot"),
        migrations.AlterField(
            model_name="modelanswer",
            name="slot",
            field=models.CharField(choices=[("a", "Correcteur A"), ("b", "Correcteur B")], max_length=1),
        ),
        migrations.AlterField(
            model_name="modelanswer",
            name="phase",
            field=models.CharField(
                choices=[("grading", "Correction"), ("verification", "Vérification")], max_length=12
            ),
        ),
        migrations.AddConstraint(
            model_name="modelanswer",
            constraint=models.UniqueConstraint(
                fields=("copy", "attempt", "phase", "slot", "repair"), name="modelanswer_unique_call"
            ),
        ),
    ]
