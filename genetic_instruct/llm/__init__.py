"""The engines that answer the roles' requests: vLLM offline, any OpenAI-compatible server,
and the scripted engine of tests and benchmarks; checked before a run writes anything
(preflight), retried on transient faults."""
