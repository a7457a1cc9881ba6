"""Everything that follows the event store, on one runner.

- ``runner``: reads the store after each follower's position in batches, decodes
  once, and hands every follower its part; NOTIFY wakes it when caught up.
- ``tracking``: how a follower keeps its position, in the same transaction as
  what it applied (one table shape, in the follower's own schema).
- ``coordinator``: the coordinating office's views (the ``simpul project
  --coordinator`` process) and their rebuild.
- ``agencies`` and ``case_files``: what a rebuild feeds besides the coordinator's
  views; ``rebuild`` makes one pass over the store for all of them.

The relay (gateways/kafka/relay.py) follows the store on the same runner.
"""
