"""Messaging (to come): one conversation space per company between the firm and the
company, threads, attachments filed through the documents' operations layer. No Flask here."""
