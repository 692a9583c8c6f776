"""The Workspace API simulator: a real HTTP server on loopback for the demo, the tests and the benchmarks."""
