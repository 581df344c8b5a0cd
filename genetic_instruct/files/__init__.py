"""The files the tool reads and writes, kept safe: whole or not at all, never through a link,
never over a file it did not write; JSONL read with errors naming file:line; the user's
cache; and where the config and seeds shipped with the tool are."""
