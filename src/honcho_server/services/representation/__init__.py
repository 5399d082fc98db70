"""Working representations: what an observer knows about an observed peer, as markdown."""
