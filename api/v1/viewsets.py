"""The base of every v1 viewset."""

from rest_framework import viewsets


class ScopedViewSet(viewsets.GenericViewSet):
    """`get_queryset` is the user's scoped selector; filters and pagination apply to lists only.

    An object URL finds the object in the user's scope whatever the query string says, so
    another user's object is 404 and one's own is never hidden by a stray `?status=`.
    """

    lookup_value_converter = "int"  # /visits/abc/ is no URL at all (the JSON 404 of api.urls)

    def filter_queryset(self, queryset):
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)
