"""The drive: WebDAV over the company trees (gate, fast paths, WsgiDAV provider and
resources, listings, locks, download receipts). It depends on `acl` and `config` alone; the
server that mounts it at `/dav` is assembled by the composition root, `liasse`."""
