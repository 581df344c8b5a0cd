"""One job per command that writes or opens a run: the run itself, what it shares with
calibrate (open_run), and the commands on a run that exists.

Checks before anything is written, the run directory's lock, a fresh start, the resume
check, and the driver that runs generations until the target, the generation limit or a
stall.
"""
