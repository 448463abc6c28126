"""GraphQL types, inputs, payloads and extensions; resolvers do the work; never touches storage."""
