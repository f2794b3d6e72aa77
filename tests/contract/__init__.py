"""Contract tests: the CLI's promises (bad input, JSON stdout, Ctrl-C), hostile input, the layer rule and the
protocol's reference client. Those that need the session's corpus or trained model are slow."""
