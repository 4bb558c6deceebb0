"""The upload form of the import pages."""

from django import forms
from django.utils.translation import gettext_lazy as _

from core.transfer.files import MAX_UPLOAD_BYTES, MAX_UPLOAD_LABEL, file_format


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=_("CSV or XLSX file"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx", "class": "form-control"}),
        error_messages={"required": _("Choose a .csv or .xlsx file to upload.")},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = _("At most %(limit)s; the first row names the columns.") % {
            "limit": MAX_UPLOAD_LABEL
        }

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if file_format(upload.name) is None:
            raise forms.ValidationError(
                _("Upload a .csv or an .xlsx file (this one is “%(name)s”)."), params={"name": upload.name}
            )
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                _("The file is %(size).1f MB: the limit is %(limit)s. Split it into smaller files."),
                params={"size": upload.size / 1024 / 1024, "limit": MAX_UPLOAD_LABEL},
            )
        return upload
