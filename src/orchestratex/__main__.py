"""`python -m orchestratex ...`: the `orchestratex` command, for an environment whose scripts are not on PATH.

Python runs this module only for `-m`; `import orchestratex` never loads it.
"""

import sys

from .cli import main

sys.exit(main())
