from spherecode.host.cli import main

raise SystemExit(main())
