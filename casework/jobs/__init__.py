"""Long work off the request: imports, checks and files, run by ``casework worker``."""
