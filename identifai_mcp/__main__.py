from identifai_mcp.cli import main

raise SystemExit(main())
