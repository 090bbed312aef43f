"""Scaffolder (API documented below once complete)."""
