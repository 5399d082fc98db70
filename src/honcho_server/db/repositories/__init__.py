"""Repositories: the only modules that write SQL. Each takes an ``AsyncSession``."""
