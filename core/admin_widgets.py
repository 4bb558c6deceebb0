"""Admin autocomplete widgets that survive hostile input.

Django 5.2's AutocompleteSelect re-renders a refused form by filtering the related
model on the posted values as they are: "abc" raises ValueError and an id beyond
64 bits a DataError, a 500 where the form should just say the choice is invalid
(the form's own validation already does). These widgets drop the values the
related key cannot hold before that query. `SafeAutocompleteMixin` goes first in
the bases of every ModelAdmin or inline with `autocomplete_fields`.
"""

from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.core.exceptions import ValidationError


class _SafeValues:
    def _storable(self, values) -> list:
        remote = self.field.remote_field
        target = remote.model._meta.get_field(getattr(remote, "field_name", None) or remote.model._meta.pk.name)
        kept = []
        for value in values:
            try:
                target.run_validators(target.to_python(value))
            except (ValidationError, TypeError, ValueError):
                continue
            kept.append(value)
        return kept

    def optgroups(self, name, value, attr=None):
        return super().optgroups(name, self._storable(value), attr)


class SafeAutocompleteSelect(_SafeValues, AutocompleteSelect):
    pass


class SafeAutocompleteSelectMultiple(_SafeValues, AutocompleteSelectMultiple):
    pass


class SafeAutocompleteMixin:
    """Use the safe autocomplete widgets for `autocomplete_fields` (ModelAdmin and inlines)."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = SafeAutocompleteSelect(db_field, self.admin_site, using=kwargs.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = SafeAutocompleteSelectMultiple(db_field, self.admin_site, using=kwargs.get("using"))
        return super().formfield_for_manytomany(db_field, request, **kwargs)
