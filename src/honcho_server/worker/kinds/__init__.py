"""One module per job kind: its typed payload, how to enqueue it, and its handler."""
