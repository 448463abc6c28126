"""Transport: the Litestar app, HTTP and WebSocket routes, the command line and settings."""
