"""`{% account_export_link %}`: the data export's link where the person may download it (tickets.access decides),
so the account page and the cancellation preview offer it without restating who may."""

from django import template

from tickets import access

register = template.Library()


@register.inclusion_tag("portal/_account_export_link.html", takes_context=True)
def account_export_link(context) -> dict:
    account = context.get("account")
    request = context.get("request")
    allowed = account is not None and request is not None and access.may_export_account_data(request.user, account)
    return {"account": account, "may_export": allowed}
