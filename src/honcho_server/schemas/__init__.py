"""Wire models: the request and response shapes of the Honcho v3 OpenAPI spec."""
