from django.urls import path

from crm import views, views_export, views_import

app_name = "crm"

urlpatterns = [
    path("customers/", views.customer_list, name="customer_list"),
    path("customers/<int:pk>/", views.customer_detail, name="customer_detail"),
    path("customers/export.<slug:fmt>", views_export.customer_export, name="customer_export"),
    path("contacts/export.<slug:fmt>", views_export.contact_export, name="contact_export"),
    path("import/<slug:kind>/", views_import.import_upload, name="import_upload"),
    path("import/<slug:kind>/confirm/", views_import.import_confirm, name="import_confirm"),
    path("import/<slug:kind>/template.csv", views_import.import_template, name="import_template"),
]
