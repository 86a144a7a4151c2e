"""Serving a class: the shared predictor, the one server-wide job, saved runs, the passcode."""
