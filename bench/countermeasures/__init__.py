"""Countermeasure kits for detector authors: waveform, split and feature models, and their training."""
