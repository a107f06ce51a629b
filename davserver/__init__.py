"""The drive and the composition root: WebDAV over the company trees, the cheroot server, the CLI.

Only `davserver.server` and `davserver.cli` import every package; the rest of `davserver`
depends on `acl` and `config` alone.
"""
