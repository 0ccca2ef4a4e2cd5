"""Sub-commands of `genuine`, one module per pipeline area; each exposes `register(app, bench_app)`."""
