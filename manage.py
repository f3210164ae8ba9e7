#!/usr/bin/env python
import sys

from shebao.cli import main

if __name__ == "__main__":
    sys.exit(main())
