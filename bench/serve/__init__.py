"""The edge detection server (``bench serve``): protocol, inference engine and server; docs/serve.md."""
