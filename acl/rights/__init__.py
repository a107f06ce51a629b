"""Rights: the one permission function (`policy.authorize`), principals, the delegation rules
of administration, passwords, sign-in throttling and the audit log."""
