"""How the portal writes money and phone numbers: in the account's currency, and as the number's country does."""

from django import template

from tickets.kinds.formats import money, national_number

register = template.Library()

# `40` with `USD` → "$40.00 USD" (tickets.kinds.formats, which the kinds' forms share).
register.filter("money", money)


@register.filter
def national(number) -> str:
    """+14155550100 → (415) 555-0100."""
    return national_number(str(getattr(number, "number", number)))
