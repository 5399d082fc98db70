"""What the background jobs learn from conversations: conclusions, summaries, peer cards."""
