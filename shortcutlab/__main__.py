"""`python -m shortcutlab` runs the CLI."""

from shortcutlab.cli.main import main

if __name__ == "__main__":  # not when a spawned worker process re-imports this module
    main()
