"""The firm's sync tool (`liasse sync`): mirrors every company tree the account reaches onto
the firm's own server, by the rules of seed 000's "module de synchronisation".

A client only: it talks to Liasse over HTTP(S) — the drive (`/dav/`) and its RFC 6578
`sync-collection` REPORT — and imports no server code (only `config.names`, the one place
that says which names every client can hold; tests/unit/test_architecture.py holds it).

- `settings`: command line, TOML file and password sources, checked into `SyncSettings`;
- `remote`: the drive over HTTP, with retries and backoff, and the change token;
- `local`: what the local folder holds (names checked, helper files and `supp_` left out);
- `state`: what both sides agreed at the end of the last run (a SQLite file of the tool);
- `rules`: the seed's rules, a pure function from (online, local, agreed) to actions;
- `engine`: one run — ask what changed, list it, plan, transfer safely, record;
- `report`: the report of each run, the monthly journal of downloads, the optional mail;
- `cli`: `liasse sync` / `python -m sync`, the lock file, `--every`, the exit codes.
"""
