from django.urls import path

from . import views

urlpatterns = [
    path("pricing/", views.pricing, name="billing_pricing"),
    path("checkout/success/", views.checkout_success, name="billing_checkout_success"),
    path("checkout/cancel/", views.checkout_cancel, name="billing_checkout_cancel"),
    path("checkout/<str:tier>/", views.checkout, name="billing_checkout"),
    path("school/<int:pk>/checkout/<str:tier>/", views.school_checkout, name="billing_school_checkout"),
    path("school/<int:pk>/portal/", views.school_portal, name="billing_school_portal"),
    path("portal/", views.portal, name="billing_portal"),
    path("invoices/", views.invoices, name="billing_invoices"),
    path("invoices/<str:invoice_id>/", views.invoice_open, name="billing_invoice_open"),
]
