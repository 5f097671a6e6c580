"""``python -m inceptionism``: the command line."""

from .cli import main

main()
