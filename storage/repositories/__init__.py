"""The repository functions, one module per aggregate.

Each function is plain and synchronous over one Connection: one transaction, few
statements, plain records out. :class:`storage.sql.SqlStore` runs them.
"""
