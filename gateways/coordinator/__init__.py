"""The coordinating office's read side: its tables in PostgreSQL and the projector that fills them."""
