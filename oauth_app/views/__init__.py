"""Thin views of the authorization server; protocol rules live in the modules they call."""
