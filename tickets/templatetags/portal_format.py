"""How the portal writes money and phone numbers: in the account's currency, and as the number's country does."""

from decimal import Decimal, InvalidOperation

from django import template

from tickets.portal.selectors import national_number

register = template.Library()

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "CAD": "CA$", "AUD": "A$", "JPY": "¥"}


@register.filter
def money(amount, currency: str = "USD") -> str:
    """`40` with `USD` → "$40.00 USD": the symbol people read and the code that makes it unambiguous."""
    try:
        value = Decimal(amount)
    except (InvalidOperation, TypeError, ValueError):
        return str(amount)
    sign = "-" if value < 0 else ""
    return f"{sign}{SYMBOLS.get(currency, '')}{abs(value):,.2f} {currency}"


@register.filter
def national(number) -> str:
    """+14155550100 → (415) 555-0100."""
    return national_number(str(getattr(number, "number", number)))
