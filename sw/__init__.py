"""Software side of sdproc: config, golden models, flows, models and the CLI."""
