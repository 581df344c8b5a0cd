"""The face: `genetic-instruct [COMMAND] [key=value ...]`, a Hydra app over one config.

app.py dispatches the commands, help.py answers help and version before Hydra,
composition.py turns config problems into one line naming the key, sweep.py gives each
point of a sweep its own run directory. The CLI reaches only the run and output layers.
"""

from genetic_instruct.cli.app import main

__all__ = ["main"]
