"""One job per command that writes a run: the run itself, and what it shares with calibrate.

Checks before anything is written, the run directory's lock, a fresh start, the resume
check, and the driver that runs generations until the target, the generation limit or a
stall.
"""
