"""The command line: `main` parses and prints; `commands` is the one layer under it that reads
the store (through storage's functions) for commands that are not flow runs."""
