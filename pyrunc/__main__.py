"""`python -m pyrunc` entry point."""

from pyrunc.cli.main import main

raise SystemExit(main())
