"""The command line: parse, call, print one line. ``main`` holds build/preview/inspect/report/
presets, ``push`` the publishing command."""
