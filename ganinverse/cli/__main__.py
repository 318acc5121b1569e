"""``python -m ganinverse.cli`` (and ``torchrun -m ganinverse.cli``) run the ``ganinverse`` command."""

import sys

from . import main

sys.exit(main())
