"""`python -m genetic_instruct.cli`: the console script, for a checkout without one."""

from genetic_instruct.cli.app import main

main()
