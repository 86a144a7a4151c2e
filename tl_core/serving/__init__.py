"""Serving a class: the one server-wide job, the passcode, hosting limits, the export."""
