"""The token-budgeted session context: pure budget arithmetic plus one fetch step."""
