"""The telephone channel: what a call's audio goes through between the caller and the contact centre.

A channel is a chain of documented parts (``profiles``): a band limit and the line's sample rate, a codec
through PyAV/FFmpeg (``codecs``: never a hand-written codec), packet loss on codec frames and a jitter
buffer (``loss``), and noise at a given SNR (``noise``). :func:`bench.channel.profiles.apply` runs a chain,
deterministically for a seed.
"""
