"""The ``/v3`` routers."""
