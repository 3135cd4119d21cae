"""Smoke tests of a running service: checks, reports (table, JSON, JUnit XML)."""
