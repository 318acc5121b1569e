"""``python -m ganinverse`` runs the ``ganinverse`` command (as ``python -m ganinverse.cli``)."""

import sys

from .cli import main

sys.exit(main())
