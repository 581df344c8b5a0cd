"""Model answers written for this project in the styles of real model families, each with
the reading the roles must make of it (tests/test_roles.py)."""
