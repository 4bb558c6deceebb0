from django.db import migrations


def create_default_policy(apps, schema_editor):
    # Field defaults are the spec's defaults (section 1).
    ScoringPolicy = apps.get_model("analytics", "ScoringPolicy")
    if not ScoringPolicy.objects.exists():
        ScoringPolicy.objects.create(version=1, name="Default", active=True)


def remove_default_policy(apps, schema_editor):
    apps.get_model("analytics", "ScoringPolicy").objects.filter(version=1, runs__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("analytics", "0001_initial")]
    operations = [migrations.RunPython(create_default_policy, remove_default_policy)]
