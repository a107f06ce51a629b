"""People: the cabinet, companies, accounts, portfolios, invitations and bulk import."""
