"""The rules of who may see and who may change what, written once and compiled to SQL and Python.

Stands on :mod:`domain` (and SQLAlchemy's expression language); ``store`` and every read and
write path apply these rules, nothing here reads or writes a database itself.
"""
