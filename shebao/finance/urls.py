from django.urls import path

from shebao.finance import views

app_name = "finance"
urlpatterns = [
    path("expenditure/", views.expenditure, name="expenditure"),
    path("income/", views.income, name="income"),
    path("income/returned/", views.returned, name="returned"),
    path("e/<int:pk>/", views.entry, name="entry"),
    path("e/<int:pk>/edit/", views.entry_edit, name="entry_edit"),
    path("e/<int:pk>/delete/", views.entry_delete, name="entry_delete"),
    path("e/<int:pk>/arrival/", views.entry_arrival, name="entry_arrival"),
    path("e/<int:pk>/review/", views.entry_review, name="entry_review"),
    path("e/<int:pk>/reverse/", views.entry_reverse, name="entry_reverse"),
    path("e/<int:pk>/pay/", views.entry_pay, name="entry_pay"),
    path("e/<int:pk>/attach/", views.entry_attach, name="entry_attach"),
    path("e/<int:pk>/attachments/<int:att>/", views.attachment, name="attachment"),
    path("e/<int:pk>/attachments/<int:att>/delete/", views.attachment_delete, name="attachment_delete"),
    path("e/<int:pk>/voucher.pdf", views.voucher, name="voucher"),
    path("review/", views.review, name="review"),
    path("payees/", views.payees, name="payees"),
    path("payees/<str:code>/", views.payee, name="payee"),
    path("report/", views.report, name="report"),
    path("types/", views.types_page, name="types"),
    path("types/<str:code>/confirm/", views.type_confirm, name="type_confirm"),
]
