"""Development tools, never on the production path: simulator, synthetic data, benchmarks, the demo."""
