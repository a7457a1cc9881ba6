"""E-mail: the SMTP gateway notices are sent through, and the notices kept in PostgreSQL."""
