"""What the terminal shows and how it is handled: progress, engine logs kept off it, and
Ctrl-C or SIGTERM turned into a stop at a safe point."""
