"""The composition root: the one package that imports every other. It assembles the server
(cheroot, the dispatcher of `/dav`, `/feeds` and `/`), the background worker and its jobs,
the `liasse` command line, the demo and the self-signed certificates."""
