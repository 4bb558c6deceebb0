"""`manage.py compilemessages` limited to the project's catalogues (never the virtualenv's packages)."""

from django.core.management.commands import compilemessages

from core.management.commands.makemessages import PROJECT_IGNORE


class Command(compilemessages.Command):
    def handle(self, **options):
        ignored = [pattern for pattern in PROJECT_IGNORE if pattern != "locale"]
        options["ignore_patterns"] = [*options.get("ignore_patterns", []), *ignored]
        return super().handle(**options)
