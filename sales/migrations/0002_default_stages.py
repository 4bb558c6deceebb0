from decimal import Decimal

from django.db import migrations

# Spec section 3: Discovery, Communication, Follow-up, then Won / Lost (terminal).
STAGES = [
    ("discovery", "Discovery", 1, Decimal("0.100"), False, False),
    ("communication", "Communication", 2, Decimal("0.300"), False, False),
    ("follow-up", "Follow-up", 3, Decimal("0.600"), False, False),
    ("won", "Won", 4, Decimal("1.000"), True, False),
    ("lost", "Lost", 5, Decimal("0.000"), False, True),
]


def create_stages(apps, schema_editor):
    Stage = apps.get_model("sales", "Stage")
    for code, name, order, probability, is_won, is_lost in STAGES:
        Stage.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "order": order,
                "default_probability": probability,
                "is_won": is_won,
                "is_lost": is_lost,
            },
        )


def remove_stages(apps, schema_editor):
    apps.get_model("sales", "Stage").objects.filter(code__in=[row[0] for row in STAGES]).delete()


class Migration(migrations.Migration):
    dependencies = [("sales", "0001_initial")]
    operations = [migrations.RunPython(create_stages, remove_stages)]
