"""``python -m debias.cli``."""

import sys

from debias.cli import main

sys.exit(main())
