"""Storage engines behind one `Store` protocol, and the repositories built on it."""
