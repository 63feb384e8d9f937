import sys

from lookup.cli import main

sys.exit(main())
