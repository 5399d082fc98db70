"""Dialectic chat: answering questions about a peer (or a workspace) from its memory."""
