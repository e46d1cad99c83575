from django.urls import include, path

from tickets.portal import account_export as account_export_views
from tickets.portal import owner_confirmation as verification_link_views
from tickets.portal import views

portal_patterns = [
    path("", views.home, name="home"),
    path("a/<str:account_id>/", views.dashboard, name="dashboard"),
    path("a/<str:account_id>/products/", views.products, name="products"),
    path("a/<str:account_id>/pause/", views.pause, name="pause"),
    path("a/<str:account_id>/port-out-lock/", views.port_out_lock, name="port_out_lock"),
    path("a/<str:account_id>/export/", account_export_views.account_export, name="account_export"),
    path("a/<str:account_id>/request/<str:kind>/", views.request_kind, name="request"),
    path("a/<str:account_id>/cancel/", views.cancel_start, name="cancel"),
    path("a/<str:account_id>/cancel/<str:step>/", views.cancel_step, name="cancel_step"),
    path("cancellation-submitted/", views.cancel_done, name="cancel_done"),
    path("tickets/<int:pk>/", views.ticket_detail, name="ticket"),
    path("tickets/<int:pk>/comment/", views.ticket_comment, name="ticket_comment"),
    path("tickets/<int:pk>/withdraw/", views.ticket_withdraw, name="ticket_withdraw"),
    path("tickets/<int:pk>/attachments/", views.attachment_upload, name="attachment_upload"),
    path("tickets/<int:pk>/attachments/<int:attachment_pk>/", views.attachment_download, name="attachment"),
]

urlpatterns = [
    path("", include((portal_patterns, "portal"))),
    # The link in a port-out alert: works without signing in (tickets.withdraw_links).
    path("port-out/withdraw/<str:token>/", views.port_out_withdraw, name="port_out_withdraw"),
    # K7's fallback: the owner confirms an account cancellation with an emailed link (tickets.verification_links).
    path("verify/confirm/<str:token>/", verification_link_views.owner_confirmation, name="owner_confirmation"),
]
