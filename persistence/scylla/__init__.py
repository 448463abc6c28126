"""The distributed engine for ScyllaDB or Cassandra; for now its CQL compiler."""
