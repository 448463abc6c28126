"""Cove's cryptography: keyring, field sealing, grants, root keys, passwords and tokens."""
