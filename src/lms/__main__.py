"""`python -m lms` runs the `lms` command."""

from lms.cli import main

main()
