"""``python -m gap_engine`` runs the ``gap`` command."""

import sys

from .cli import main

sys.exit(main())
