"""The call log in SQL (SQLAlchemy 2, async): SQLite by default, PostgreSQL in production."""
