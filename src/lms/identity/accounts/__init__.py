"""Accounts: tenant admins manage accounts; users manage their own profile."""
