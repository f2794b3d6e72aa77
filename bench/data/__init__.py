"""Corpora and fakes datasets: their schema, saving and opening, the Hub round trip, subsets."""
