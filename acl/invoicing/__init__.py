"""Invoicing (to come): customers, articles, quotes, invoices, credit notes, numbering,
amounts, legal mentions, PDF and Factur-X, reports. Framework-free: no Flask here (the web
app's views in `invoicing_web` call it; tests/unit/test_architecture.py holds it)."""
