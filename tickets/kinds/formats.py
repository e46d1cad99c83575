"""How a kind's form and the portal write money and phone numbers: in the account's currency, and as the number's
country does. Here, below the portal, so that a kind's form and the portal's template filters share them."""

from decimal import Decimal, InvalidOperation

import phonenumbers

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "CAD": "CA$", "AUD": "A$", "JPY": "¥"}


def money(amount, currency: str = "USD") -> str:
    """`40` with `USD` → "$40.00 USD": the symbol people read and the code that makes it unambiguous."""
    try:
        value = Decimal(amount)
    except (InvalidOperation, TypeError, ValueError):
        return str(amount)
    sign = "-" if value < 0 else ""
    return f"{sign}{SYMBOLS.get(currency, '')}{abs(value):,.2f} {currency}"


def national_number(number: str) -> str:
    """A number as its own country writes it ((415) 555-0100); the E.164 form where it does not parse."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
