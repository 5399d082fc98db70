"""Operator signals: Prometheus metrics (:mod:`.metrics`, served by :mod:`.scrape`), the access
log and request ids (:mod:`.middleware`), and the logging setup (:mod:`.logs`)."""
