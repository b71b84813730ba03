"""`python -m shortcutlab` runs the CLI."""

from shortcutlab.cli.main import main

main()
