"""Fiscal calendar (to come): deadline rules, firm and company events, alerts. No Flask
here."""
