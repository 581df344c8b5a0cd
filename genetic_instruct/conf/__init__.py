"""The shipped Hydra config (config.yaml and its groups), read as `pkg://genetic_instruct.conf`
so an installed wheel finds it from any directory; `--config-dir` adds a user's own."""
