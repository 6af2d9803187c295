"""`python -m loadtest`: see __main__.py."""
