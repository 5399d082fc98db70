"""Domain rules. Services call repositories and return wire schemas; they never write SQL."""
