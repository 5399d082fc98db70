"""Authentication (HS256 JWT keys) and authorization (who may call which route), BEHAVIOUR §21."""
