from caseflags.cli import main

main()
