"""Deployment targets. Each cloud SDK is touched by exactly one module here."""
