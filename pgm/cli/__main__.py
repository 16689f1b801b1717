"""``python -m pgm.cli`` runs the command line, as ``python -m pgm`` does."""

import sys

from . import main

sys.exit(main())
