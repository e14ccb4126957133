"""The read-only status page served at ``/`` on the metrics listener (see :mod:`bridge.status.page`)."""
