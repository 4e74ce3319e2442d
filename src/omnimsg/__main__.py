"""``python -m omnimsg``: the command line, as the ``omnimsg`` script runs it."""

from omnimsg.cli import main

raise SystemExit(main())
