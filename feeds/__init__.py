"""RSS/Atom feeds (feedgen) and ICS calendars at `/feeds`, authenticated by per-user revocable
tokens or HTTP Basic: `app` (the WSGI app `liasse.server` mounts), `syndication`, `ics`.
What a feed holds and who may read it is decided in `acl`."""
