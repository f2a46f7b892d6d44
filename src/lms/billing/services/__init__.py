"""Billing services: accounts and subscriptions, the webhook inbox, paid courses, seats, operators."""
