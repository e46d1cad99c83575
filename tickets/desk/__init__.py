"""The agents' desk: the Django admin for tickets, accounts and billing (imported by TicketsConfig.ready)."""
