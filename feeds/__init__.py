"""RSS/Atom feeds (feedgen) and ICS calendars, authenticated by per-user revocable tokens.

Empty until the feeds issue; the server already reserves `/feeds` for it.
"""
