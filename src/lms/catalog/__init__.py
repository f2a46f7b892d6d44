"""Catalogue: programs, courses, modules, lessons, publishing with versions, search."""
