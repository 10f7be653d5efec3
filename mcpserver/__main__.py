from mcpserver.cli import main

main()
