from rnn_analysis.cli import main

raise SystemExit(main())
