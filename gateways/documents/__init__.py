"""Where documents' content is kept: PostgreSQL by default (services/documents.py's seam)."""
