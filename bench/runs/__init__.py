"""The pipeline's runs: simulate or import a corpus, generate fakes, evaluate, train, migrate, the demo."""
