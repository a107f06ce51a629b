"""The foundation: database, accounts, companies, portfolios, rights, audit.

The one permission function is `acl.policy.authorize`.
"""
