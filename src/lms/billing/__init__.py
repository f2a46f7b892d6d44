"""Billing: plans and features, seat licensing, Stripe subscriptions, paid courses, the webhook inbox."""
