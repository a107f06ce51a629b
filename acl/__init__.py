"""The domain, framework-free, in wings with one job each: `rights` (the one permission
function `acl.rights.policy.authorize`, principals, delegation, passwords, throttling,
audit), `people`, `documents` (with the one operations layer), `events`, and the homes of
`invoicing`, `messaging` and `calendar`. `db` and `errors` are shared by every wing."""
