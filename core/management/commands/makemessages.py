"""`manage.py makemessages` with the project's defaults, so every run builds the same catalogue.

The translator's and the test's run (tests/core/test_i18n.py) share these: the project's
own sources only (no virtualenv, vendored assets, tests or data) and file names without line
numbers as locations, so a catalogue only changes when a message does.
"""

from django.core.management.commands import makemessages

# Paths relative to the project root, matched like --ignore patterns.
PROJECT_IGNORE = [".venv", "node_modules", "static/vendor", "staticfiles", "var", "tests", "bench", "data", "locale"]


class Command(makemessages.Command):
    def handle(self, *args, **options):
        options["ignore_patterns"] = [*options.get("ignore_patterns", []), *PROJECT_IGNORE]
        if not options.get("no_location"):
            options["add_location"] = options.get("add_location") or "file"
        return super().handle(*args, **options)
