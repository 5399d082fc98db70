"""Queue mechanics: claim a job, run its handler, record the outcome."""
