"""`python -m hotline.cli ...`: what the tests and the service (starting its guard) run."""

from hotline.cli import main

main()
