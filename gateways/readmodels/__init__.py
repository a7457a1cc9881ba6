"""The stateful read models in PostgreSQL: each agency's inbox and the coordinator's views.

Their folds are pure and live in projections/; here are their tables, the
writes that apply a batch, and the queries the API serves.
"""
