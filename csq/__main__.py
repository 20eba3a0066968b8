from csq.cli import main

raise SystemExit(main())
