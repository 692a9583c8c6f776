"""Helpers shared by the integration, outage and crash tests (plain functions and classes, no fixtures)."""
