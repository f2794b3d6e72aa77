"""Signal processing shared by the simulator, the generators and the detectors (WORLD, levels)."""
