"""Load-state logic: plain Python, no mypy imports.

Everything here models what SQLAlchemy's ORM loads at runtime, so it can be tested
on its own and mirrored against real SQLAlchemy in the differential suite.
"""
