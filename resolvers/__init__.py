"""Domain logic: load sealed records, authorise (authz mints a Grant), open, change, publish."""
