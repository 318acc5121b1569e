"""``python -m pretrain`` (see pretrain.cli)."""

import sys

from .cli import main

sys.exit(main())
