"""Events: the append-only stream of what happened, the alerts it raises and the mail
outbox a background worker sends."""
