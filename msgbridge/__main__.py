from msgbridge.cli.main import main

main()
