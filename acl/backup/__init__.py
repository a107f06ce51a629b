"""Backups of a whole installation: its database and the document bodies it names.

`rows` writes every table as JSON lines and inserts them back (any database to any other);
`manifest` says what a snapshot holds and checks it; `snapshots` takes a backup into a
folder (`liasse backup`); `restore` puts one back into an empty installation (`liasse
restore`). Bodies go only through the blob store's public interface.
"""
